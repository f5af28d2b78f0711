"""Turning a stored webhook delivery into domain work (the `process_event` task's body).

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

from plugin.db import record_failure, serialized, session_scope, utcnow
from plugin.program.settings import load_program
from plugin.referrals.friend_check import friend_checker
from plugin.referrals.order_records import read_order
from plugin.referrals.orders import apply_order_event
from plugin.tenants.models import Tenant
from plugin.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)

UNINSTALLED = "Skipped: the shop uninstalled the app."


@dataclass
class _Hint:
    tenant: Tenant
    order_id: str
    recipient: str | None


def process_event(tenant_id: int, event_id: int) -> str:
    """Apply one stored delivery. Idempotent: a processed event is skipped, and every
    effect of processing is keyed on the order, so running it again changes nothing.
    A failure is counted on the event (after the rollback released the locks) and raised."""
    try:
        return "done" if _apply(tenant_id, event_id) else "skipped"
    except Exception as exc:
        log.warning("event %s of tenant %s failed: %s", event_id, tenant_id, exc)
        record_failure(tenant_id, WebhookEvent, event_id, exc)
        raise


def _apply(tenant_id: int, event_id: int) -> bool:
    """Whether this run applied the event (False: done before, or done now with a note only)."""
    hint = _hint(tenant_id, event_id)
    if hint is None:
        return False
    if not hint.tenant.is_installed:
        return _finish(tenant_id, event_id, UNINSTALLED)
    if hint.recipient != hint.tenant.app_id:
        log.warning(
            "event %s of tenant %s ignored: rendered for app %.64r, not ours", event_id, tenant_id, hint.recipient
        )
        return _finish(
            tenant_id,
            event_id,
            f"Ignored: this delivery was rendered for another app "
            f"({hint.recipient!r:.80}), not for this shop's app; nothing changed.",
        )
    order = read_order(hint.tenant, hint.order_id)  # Saleor down → raises; the event stays pending
    if order is None:
        return _finish(
            tenant_id,
            event_id,
            f"Ignored: Saleor shows no order {hint.order_id!r:.300} to this shop's app; nothing changed.",
        )

    with session_scope(tenant_id) as session, serialized(session):
        event = session.scalar(select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update())
        if event is None or event.status == WebhookEvent.DONE:
            return False
        tenant = session.get(Tenant, tenant_id)
        event.attempts += 1
        if not tenant.is_installed:
            _mark_done(event, UNINSTALLED)
            return False
        program = load_program(session, tenant_id)
        apply_order_event(session, tenant, program, order, friend_check=friend_checker(tenant))
        _mark_done(event, None)
        return True


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


def _finish(tenant_id: int, event_id: int, note: str) -> bool:
    """Mark the event done without changing anything else, with a note saying why."""
    with session_scope(tenant_id) as session:
        event = session.scalar(select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update())
        if event is not None and event.status != WebhookEvent.DONE:
            event.attempts += 1
            _mark_done(event, note)
    return False


def _mark_done(event: WebhookEvent, note: str | None) -> None:
    event.status = WebhookEvent.DONE
    event.processed_at = utcnow()
    event.last_error = note
