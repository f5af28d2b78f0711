"""The outbox of events for the merchant's systems.

`emit()` writes the event and one delivery per endpoint that wants it, in the caller's
transaction, so an event exists exactly when the change it describes was committed. After the
commit the new deliveries are handed to the task runner (`_hand_over`, the one place that
enqueues them; the sweeper re-drives whatever is due after that).
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from plugin import tasks
from plugin.db import utcnow
from plugin.merchant_webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage

EVENT_TYPES = (
    "advocate.enrolled",
    "referral.attributed", "referral.approved", "referral.held", "referral.rejected", "referral.revoked",
    "reward.issued", "reward.revoked", "reward.redeemed",
)
# After this many failures in a row an endpoint gets one delivery at a time (a probe) until it
# answers again, so a dead receiver does not hold every worker in its timeouts.
CIRCUIT_AFTER = 3
NOT_SENT_DISABLED = "Not sent: the endpoint is disabled."

_HANDOVER = "outbound_deliveries"  # session.info: (tenant, delivery) ids to enqueue after the commit
_ENDPOINTS = "outbound_endpoints"  # session.info: this transaction's endpoints, per shop


def settings():
    """The running app's Config, or the defaults outside an app (a script)."""
    from flask import current_app, has_app_context

    from plugin.config import Config

    return current_app.config["SETTINGS"] if has_app_context() else Config()


def retry_window() -> timedelta:
    return timedelta(hours=settings().webhook_retry_hours)


def isoformat(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _endpoints(session: Session, tenant_id: int) -> list[WebhookEndpoint]:
    cache = session.info.setdefault(_ENDPOINTS, {})
    if tenant_id not in cache:
        cache[tenant_id] = list(session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id).order_by(WebhookEndpoint.id)))
    return cache[tenant_id]


def emit(session: Session, tenant_id: int, event_type: str, data: Callable[[], dict]) -> WebhookMessage | None:
    """Store `event_type` for every endpoint of the shop that wants it. `data()` builds the
    payload's `data` object; it is called only when some endpoint listens."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    endpoints = [e for e in _endpoints(session, tenant_id) if e.wants(event_type)]
    if not endpoints:
        return None
    now = utcnow()
    body = json.dumps({"type": event_type, "timestamp": isoformat(now), "data": data()}, separators=(",", ":"))
    message = WebhookMessage(tenant_id=tenant_id, msg_id=f"msg_{uuid.uuid4().hex}", event_type=event_type,
                             body=body, created_at=now)
    session.add(message)
    session.flush()
    give_up_at = now + retry_window()
    deliveries = []
    for endpoint in endpoints:
        delivery = WebhookDelivery(tenant_id=tenant_id, message_id=message.id, endpoint_id=endpoint.id,
                                   next_attempt_at=now, give_up_at=give_up_at, created_at=now)
        if not endpoint.enabled:
            # Kept in the log: the merchant can send it after re-enabling the endpoint.
            delivery.status, delivery.last_error = WebhookDelivery.FAILED, NOT_SENT_DISABLED
        session.add(delivery)
        deliveries.append((endpoint, delivery))
    session.flush()
    handover = session.info.setdefault(_HANDOVER, [])
    for endpoint, delivery in deliveries:
        # A failing endpoint's deliveries wait for the sweeper, which sends it one probe at a time.
        if endpoint.enabled and endpoint.consecutive_failures < CIRCUIT_AFTER:
            handover.append((tenant_id, delivery.id))
    return message


# Both events also fire when a savepoint (begin_nested) ends; only the outer transaction counts.
@event.listens_for(Session, "after_commit")
def _hand_over(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.info.pop(_ENDPOINTS, None)
    for tenant_id, delivery_id in session.info.pop(_HANDOVER, None) or ():
        tasks.enqueue("deliver_webhook", tenant_id, delivery_id)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    if session.in_nested_transaction():
        return  # deliveries rolled back with a savepoint are skipped by their task
    session.info.pop(_ENDPOINTS, None)
    session.info.pop(_HANDOVER, None)
