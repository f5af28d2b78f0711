"""The outbox of events for the merchant's systems.

`emit()` writes the event and one delivery per endpoint that wants it, in the caller's
transaction, so an event exists exactly when the change it describes was committed, and queues
`deliver_webhook` for each once that transaction commits (the sweeper re-drives whatever is due
after that).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.merchant_webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage
from plugin.merchant_webhooks.policy import CIRCUIT_AFTER, EVENT_TYPES, NOT_SENT_DISABLED, isoformat, retry_window
from plugin.merchant_webhooks.tasks import deliver_webhook

_ENDPOINTS = "outbound_endpoints"  # session.info: this transaction's endpoints, per shop


def _endpoints(session: Session, tenant_id: int) -> list[WebhookEndpoint]:
    cache = session.info.setdefault(_ENDPOINTS, {})
    if tenant_id not in cache:
        cache[tenant_id] = list(
            session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id).order_by(WebhookEndpoint.id)
            )
        )
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
    message = WebhookMessage(
        tenant_id=tenant_id, msg_id=f"msg_{uuid.uuid4().hex}", event_type=event_type, body=body, created_at=now
    )
    session.add(message)
    session.flush()
    give_up_at = now + retry_window()
    deliveries = []
    for endpoint in endpoints:
        delivery = WebhookDelivery(
            tenant_id=tenant_id,
            message_id=message.id,
            endpoint_id=endpoint.id,
            next_attempt_at=now,
            give_up_at=give_up_at,
            created_at=now,
        )
        if not endpoint.enabled:
            # Kept in the log: the merchant can send it after re-enabling the endpoint.
            delivery.status, delivery.last_error = WebhookDelivery.FAILED, NOT_SENT_DISABLED
        session.add(delivery)
        deliveries.append((endpoint, delivery))
    session.flush()
    for endpoint, delivery in deliveries:
        # A failing endpoint's deliveries wait for the sweeper, which sends it one probe at a time.
        if endpoint.enabled and endpoint.consecutive_failures < CIRCUIT_AFTER:
            deliver_webhook.after_commit(session, tenant_id, delivery.id)
    return message


@event.listens_for(Session, "after_transaction_end")
def _forget_endpoints(session: Session, transaction) -> None:
    if transaction.parent is None:  # the next transaction reads the endpoints afresh
        session.info.pop(_ENDPOINTS, None)
