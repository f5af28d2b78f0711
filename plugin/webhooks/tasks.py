"""Turning a stored webhook into domain work."""
from __future__ import annotations

import json
import logging

from sqlalchemy import select

from plugin import tasks
from plugin.db import serialized, session_scope, utcnow
from plugin.mail.outbox import EMAILS_QUEUED
from plugin.program.settings import load_program
from plugin.referrals.friend_check import friend_checker
from plugin.referrals.orders import apply_order_event
from plugin.tenants.models import Tenant
from plugin.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)


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
    with session_scope(tenant_id) as session, serialized(session):
        event = session.scalar(select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update())
        if event is None or event.status == WebhookEvent.DONE:
            return None
        tenant = session.get(Tenant, tenant_id)
        event.attempts += 1
        if not tenant.is_installed:
            event.status = WebhookEvent.DONE
            event.last_error = "Skipped: the shop uninstalled the app."
            return None
        payload = json.loads(event.body)
        program = load_program(session, tenant_id)
        outcome = apply_order_event(session, tenant, program, payload["order"], friend_check=friend_checker(tenant))
        outcome.emails_queued = bool(session.info.get(EMAILS_QUEUED))
        event.status = WebhookEvent.DONE
        event.processed_at = utcnow()
        event.last_error = None
        return outcome


def _record_failure(tenant_id: int, event_id: int, exc: Exception) -> None:
    log.warning("event %s of tenant %s failed: %s", event_id, tenant_id, exc)
    with session_scope(tenant_id) as session:
        event = session.get(WebhookEvent, event_id)
        if event is not None:
            event.attempts += 1
            event.last_error = f"{type(exc).__name__}: {exc}"[:500]
