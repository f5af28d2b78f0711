"""Turning a stored webhook into domain work.

A delivery is a hint, not evidence: Saleor signs every app's deliveries with one key, and
every app writes its own subscription (with aliases), so a signed body proves only that some
app of this Saleor was sent it. The task reads the order from Saleor with the shop's own token
(outside any row lock, so a slow Saleor holds none) and decides on that answer alone.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import select

from plugin import tasks
from plugin.db import serialized, session_scope, utcnow
from plugin.mail.outbox import EMAILS_QUEUED
from plugin.program.settings import load_program
from plugin.referrals.friend_check import friend_checker
from plugin.referrals.orders import apply_order_event, read_order
from plugin.tenants.models import Tenant
from plugin.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)

UNINSTALLED = "Skipped: the shop uninstalled the app."


@dataclass
class _Hint:
    tenant: Tenant
    order_id: str
    recipient: str | None


@tasks.task("process_event")
def process_event(tenant_id: int, event_id: int) -> str:
    """Apply one stored delivery. Idempotent: a processed event is skipped, and every
    effect of processing is keyed on the order, so running it again changes nothing."""
    try:
        outcome = _apply(tenant_id, event_id)
    except Exception as exc:
        _record_failure(tenant_id, event_id, exc)  # the rollback released the locks
        raise
    if outcome is None:
        return "skipped"
    for coupon_id in outcome.coupon_ids:
        tasks.enqueue("issue_coupon", tenant_id, coupon_id)
    for referral_id in outcome.revoked_referral_ids:
        tasks.enqueue("revoke_referral", tenant_id, referral_id)
    if outcome.emails_queued:
        tasks.enqueue("send_pending_emails", tenant_id)
    return "done"


def _apply(tenant_id: int, event_id: int):
    hint = _hint(tenant_id, event_id)
    if hint is None:
        return None
    if not hint.tenant.is_installed:
        return _finish(tenant_id, event_id, UNINSTALLED)
    if hint.recipient != hint.tenant.app_id:
        log.warning("event %s of tenant %s ignored: rendered for app %.64r, not ours", event_id, tenant_id,
                    hint.recipient)
        return _finish(tenant_id, event_id, f"Ignored: this delivery was rendered for another app "
                                            f"({hint.recipient!r:.80}), not for this shop's app; nothing changed.")
    order = read_order(hint.tenant, hint.order_id)  # Saleor down → raises; the event stays pending
    if order is None:
        return _finish(tenant_id, event_id, f"Ignored: Saleor shows no order {hint.order_id!r:.300} to this "
                                            "shop's app; nothing changed.")

    with session_scope(tenant_id) as session, serialized(session):
        event = session.scalar(select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update())
        if event is None or event.status == WebhookEvent.DONE:
            return None
        tenant = session.get(Tenant, tenant_id)
        event.attempts += 1
        if not tenant.is_installed:
            _mark_done(event, UNINSTALLED)
            return None
        program = load_program(session, tenant_id)
        outcome = apply_order_event(session, tenant, program, order, friend_check=friend_checker(tenant))
        outcome.emails_queued = bool(session.info.get(EMAILS_QUEUED))
        _mark_done(event, None)
        return outcome


def _hint(tenant_id: int, event_id: int) -> _Hint | None:
    """What the stored delivery says, read without a lock: which order to look up, for whom."""
    with session_scope(tenant_id) as session:
        event = session.get(WebhookEvent, event_id)
        if event is None or event.status == WebhookEvent.DONE:
            return None
        payload = json.loads(event.body)
        tenant = session.get(Tenant, tenant_id)
    recipient = payload.get("recipient")
    recipient_id = recipient.get("id") if isinstance(recipient, dict) else None
    return _Hint(tenant, payload["order"]["id"], recipient_id if isinstance(recipient_id, str) else None)


def _finish(tenant_id: int, event_id: int, note: str) -> None:
    """Mark the event done without changing anything else, with a note saying why."""
    with session_scope(tenant_id) as session:
        event = session.scalar(select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update())
        if event is not None and event.status != WebhookEvent.DONE:
            event.attempts += 1
            _mark_done(event, note)
    return None


def _mark_done(event: WebhookEvent, note: str | None) -> None:
    event.status = WebhookEvent.DONE
    event.processed_at = utcnow()
    event.last_error = note


def _record_failure(tenant_id: int, event_id: int, exc: Exception) -> None:
    log.warning("event %s of tenant %s failed: %s", event_id, tenant_id, exc)
    with session_scope(tenant_id) as session:
        event = session.get(WebhookEvent, event_id)
        if event is not None:
            event.attempts += 1
            event.last_error = f"{type(exc).__name__}: {exc}"[:500]
