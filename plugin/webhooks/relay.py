"""Hands stored webhook events to the task queue: the outbox relay of a Celery deployment.

Ingest only writes the event row (one durable INSERT), so answering Saleor never waits for the
broker and a broker outage cannot fail a delivery. The relay, a thread in every Celery worker's
main process, polls a partial index of unqueued rows every POLL_INTERVAL, claims them with
FOR UPDATE SKIP LOCKED (two workers never publish the same row), publishes one `process_event` per
order with the ids of all its claimed rows (Saleor sends an order's deliveries together, and one
read of the order answers for all of them), and commits the claim only after the broker took them all. If the broker is down the claim
rolls back and the rows go out once it is back. A message lost after that (a broker that forgot
it) is the sweeper's business, as before.

A row is published once it has waited SETTLE seconds, together with every younger row of the same
order: Saleor sends an order's deliveries (created, updated, paid, fully paid) within moments of
each other, and publishing each as it arrived made a task and an order read per delivery.

Polling, not LISTEN/NOTIFY: a NOTIFY holds a database-wide lock through its transaction's commit,
which would serialise every ingest commit; an indexed poll of an almost empty index costs nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import bindparam, or_, select, text, update

from plugin import db
from plugin.db import UTCDateTime, serialized, session_scope, utcnow
from plugin.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)

BATCH = 500
POLL_INTERVAL = 0.05  # seconds; with SETTLE, adds at most this much to a reward's latency
SETTLE = 0.25  # seconds a delivery waits for the rest of its order's deliveries


_ANY_DUE = text("SELECT 1 FROM webhook_events WHERE queued_at IS NULL AND received_at <= :due LIMIT 1").bindparams(
    bindparam("due", type_=UTCDateTime())
)


def anything_unqueued(settle: float = 0.0) -> bool:
    """The idle poll: one probe of the unqueued rows' partial index, no transaction to open and commit."""
    with db.autocommit_engine().connect() as conn:
        return conn.execute(_ANY_DUE, {"due": utcnow() - timedelta(seconds=settle)}).first() is not None


def publish_unqueued(publish: Callable[..., None], limit: int = BATCH, settle: float = 0.0) -> int:
    """Claim up to `limit` unqueued events that waited `settle` seconds, with the younger ones of the
    same orders, publish them, `publish(tenant_id, *event_ids)` once per order, then commit the
    claim; how many events went out."""
    due = utcnow() - timedelta(seconds=settle)
    unqueued = WebhookEvent.queued_at.is_(None)
    orders_due = select(WebhookEvent.order_id).where(
        unqueued, WebhookEvent.received_at <= due, WebhookEvent.order_id.is_not(None)
    )
    claimable = (
        select(WebhookEvent.id)
        .where(unqueued, or_(WebhookEvent.received_at <= due, WebhookEvent.order_id.in_(orders_due)))
        .order_by(WebhookEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # Claimed and stamped in one statement (the relay runs in the worker's main process, where
    # every statement competes with dispatching tasks to the pool).
    claim = (
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(claimable.scalar_subquery()))
        .values(queued_at=utcnow())
        .returning(WebhookEvent.tenant_id, WebhookEvent.id, WebhookEvent.order_id)
    )
    with session_scope() as session, serialized(session):
        rows = sorted(session.connection().execute(claim).all(), key=lambda row: row.id)
        if not rows:
            return 0
        by_order: dict[tuple[int, str | None], list[int]] = {}
        for tenant_id, event_id, order_id in rows:
            by_order.setdefault((tenant_id, order_id), []).append(event_id)
        for (tenant_id, _order_id), event_ids in by_order.items():
            publish(tenant_id, *event_ids)  # raises if the broker is down: the claim rolls back
    return len(rows)


class EventRelay:
    """Runs `publish_unqueued` in a loop: at once again while there is a backlog, else after a pause."""

    def __init__(
        self, flask_app, publish: Callable[..., None], poll_interval: float = POLL_INTERVAL, settle: float = SETTLE
    ):
        self.app = flask_app
        self.publish = publish
        self.poll_interval = poll_interval
        self.settle = settle
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> EventRelay:
        self._thread = threading.Thread(target=self._run, name="event-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.5
        with self.app.app_context():
            while not self._stop.is_set():
                try:
                    if anything_unqueued(self.settle) and publish_unqueued(self.publish, settle=self.settle) == BATCH:
                        continue  # a backlog: keep draining
                    backoff = 0.5
                    self._stop.wait(self.poll_interval)
                except Exception as exc:  # noqa: BLE001 - database or broker away: retry, never die
                    log.warning("event relay: %s; retrying in %.1fs", exc, backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
