"""The outbox relay: stored deliveries reach the broker once each, and a broker outage loses none."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from plugin.db import session_scope, utcnow
from plugin.tasks import Runner
from plugin.webhooks.models import WebhookEvent
from plugin.webhooks.relay import EventRelay, publish_unqueued
from tests.conftest import wait_until
from tests.fixtures import load, post_headers, signed_deliveries
from tests.webhooks.test_ingest import captured_shop  # noqa: F401 - fixture


class RelayedRunner(Runner):
    """What the web process of a Celery deployment looks like to ingest: rows are left for the relay."""

    relays_stored_events = True

    def __init__(self):
        self.calls = []

    def enqueue(self, name, *args, countdown=0):
        self.calls.append((name, args))


class Broker:
    def __init__(self, fail_after: int | None = None):
        self.published: list[tuple[int, int]] = []
        self.fail_after = fail_after
        self._lock = threading.Lock()

    def __call__(self, tenant_id: int, *event_ids: int) -> None:
        with self._lock:
            if self.fail_after is not None and len(self.published) >= self.fail_after:
                raise ConnectionError("broker went away")
            self.published.extend((tenant_id, event_id) for event_id in event_ids)


def _ingest_all(app, client) -> list[int]:
    runner = RelayedRunner()
    app.extensions["task_runner"] = runner
    for delivery in signed_deliveries():
        if delivery.event != "app_deleted":
            assert client.post(delivery.path, data=delivery.body, headers=post_headers(delivery)).status_code == 200
    assert runner.calls == [], "with a relay, answering Saleor never touches the broker"
    with session_scope() as session:
        return list(session.scalars(select(WebhookEvent.id).order_by(WebhookEvent.id)))


def _unqueued() -> int:
    with session_scope() as session:
        return len(session.scalars(select(WebhookEvent.id).where(WebhookEvent.queued_at.is_(None))).all())


def test_every_stored_delivery_is_published_once(app, client, captured_shop):  # noqa: F811
    stored = _ingest_all(app, client)
    assert _unqueued() == len(stored)
    broker = Broker()
    with app.app_context():
        assert publish_unqueued(broker) == len(stored)
        assert publish_unqueued(broker) == 0
    assert sorted(event_id for _tenant, event_id in broker.published) == stored
    assert _unqueued() == 0


def test_broker_down_mid_batch_keeps_every_row_for_the_next_attempt(app, client, captured_shop):  # noqa: F811
    stored = _ingest_all(app, client)
    broker = Broker(fail_after=3)
    with app.app_context(), pytest.raises(ConnectionError):
        publish_unqueued(broker)
    assert _unqueued() == len(stored), "the claim was rolled back with the failed publish"
    broker.fail_after = None
    with app.app_context():
        assert publish_unqueued(broker) == len(stored)
    # The three published before the failure go out again: duplicates are harmless, losses are not.
    assert {event_id for _tenant, event_id in broker.published} == set(stored)


def test_relays_on_several_workers_never_publish_a_row_twice(app, client, captured_shop, postgres):  # noqa: F811
    stored = _ingest_all(app, client)
    broker = Broker()
    relays = [EventRelay(app, broker, poll_interval=0.01).start() for _ in range(4)]
    try:
        assert wait_until(lambda: len(broker.published) >= len(stored), timeout=10)
        assert wait_until(lambda: _unqueued() == 0, timeout=5)
    finally:
        for relay in relays:
            relay.stop()
    assert sorted(event_id for _tenant, event_id in broker.published) == stored


def test_relay_outlives_a_broker_outage(app, client, captured_shop):  # noqa: F811
    stored = _ingest_all(app, client)
    broker = Broker(fail_after=0)
    relay = EventRelay(app, broker, poll_interval=0.01).start()
    try:
        assert not wait_until(lambda: broker.published, timeout=1)
        broker.fail_after = None  # the broker is back
        assert wait_until(lambda: len(broker.published) == len(stored), timeout=10)
    finally:
        relay.stop()


def test_in_process_runner_gets_the_event_directly(app, client, captured_shop):  # noqa: F811
    delivery = load("order_fully_paid__A__3.json")
    assert client.post(delivery.path, data=delivery.body, headers=post_headers(delivery)).status_code == 200
    assert captured_shop.calls and captured_shop.calls[0][0] == "process_event"
    assert _unqueued() == 0, "nothing is left for a relay that does not run"


def test_sweeper_leaves_unqueued_rows_to_the_relay(app, client, captured_shop):  # noqa: F811
    from plugin.sweeper import sweep

    stored = _ingest_all(app, client)
    later = utcnow() + timedelta(minutes=5)
    with app.app_context(), time_machine.travel(later):
        assert sweep()["events"] == 0, "the relay sends these once; copies from the sweeper would only add work"
    with app.app_context():
        publish_unqueued(Broker())  # handed to a broker that then forgets them
    with app.app_context(), time_machine.travel(later):
        assert sweep()["events"] == len(stored)


def test_a_delivery_waits_for_its_orders_others_and_goes_out_with_them(app, client, captured_shop):  # noqa: F811
    stored = _ingest_all(app, client)
    with session_scope() as session:
        rows = session.execute(select(WebhookEvent.id, WebhookEvent.order_id).order_by(WebhookEvent.id)).all()
        by_order: dict[str, list[int]] = {}
        for event_id, order_id in rows:
            by_order.setdefault(order_id, []).append(event_id)
        first_order, others = rows[0].order_id, [i for o, ids in by_order.items() if o != rows[0].order_id for i in ids]
        assert len(by_order[first_order]) >= 2 and others, "the captures hold several deliveries of several orders"
        session.get(WebhookEvent, by_order[first_order][0]).received_at = utcnow() - timedelta(seconds=1)
    broker = Broker()
    with app.app_context():
        assert publish_unqueued(broker, settle=0.25) == len(by_order[first_order]), (
            "the order's younger rows came along"
        )
        assert publish_unqueued(broker, settle=0.25) == 0, "the other orders' deliveries are still settling"
        with time_machine.travel(utcnow() + timedelta(seconds=1)):
            assert publish_unqueued(broker, settle=0.25) == len(others)
    assert sorted(event_id for _tenant, event_id in broker.published) == stored
