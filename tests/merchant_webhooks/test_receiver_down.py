"""Must-show 3: with the merchant's receiver down for a while, every event arrives later exactly
as stored, once per webhook id — in-process, and with a real Celery worker killed and restarted."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from plugin.db import session_scope, utcnow
from plugin.merchant_webhooks.models import WebhookAttempt
from plugin.sweeper import sweep
from tests.admin.helpers import Admin
from tests.conftest import wait_until
from tests.flows import advocate_code, coupons_for, make_advocate, referred_order
from tests.merchant_webhooks.conftest import add_endpoint, deliveries, stored_messages
from tests.merchant_webhooks.receiver import Receiver
from tests.workers import CeleryWorker, worker_env


def attempts_to(endpoint_id: int) -> int:
    from plugin.merchant_webhooks.models import WebhookDelivery

    with session_scope() as session:
        return session.scalar(
            select(func.count(WebhookAttempt.id))
            .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
        )


def assert_received_exactly_as_stored(receiver: Receiver, endpoint_id: int) -> None:
    stored = {m.msg_id: m.body for m in stored_messages()}
    counts = Counter(receiver.ids())
    assert set(counts) == set(stored), "every stored event arrived"
    assert set(counts.values()) == {1}, f"once per webhook id: {counts}"
    for got in receiver.received:
        assert got.body.decode() == stored[got.webhook_id]
    assert receiver.refused == [], "every request carried a valid signature"


def test_a_dead_receiver_delays_only_its_own_events(webhook_shop, receiver):
    down = Receiver()
    receiver.start()
    up_endpoint = add_endpoint(webhook_shop, receiver)["endpoint"]
    down_endpoint = add_endpoint(webhook_shop, down)["endpoint"]
    saleor = webhook_shop.saleor
    with time_machine.travel(utcnow(), tick=True) as clock:
        order = referred_order(saleor, make_advocate(saleor), email="bob@example.com")
        assert len(coupons_for(order["id"])) == 2
        # The live endpoint got everything at once; the dead one holds its events.
        assert_received_exactly_as_stored(receiver, up_endpoint["id"])
        assert len(receiver.received) == 6
        pending = [d for d in deliveries() if d.endpoint_id == down_endpoint["id"]]
        assert len(pending) == 6 and {d.status for d in pending} == {"pending"}

        # After three failures in a row the dead endpoint gets one probe per sweep, not a request per event.
        with webhook_shop.flask_app.app_context():
            for _ in range(3):
                before = attempts_to(down_endpoint["id"])
                clock.shift(timedelta(minutes=10))
                sweep()
                assert attempts_to(down_endpoint["id"]) == before + 1
            down.start()
            clock.shift(timedelta(minutes=10))
            sweep()  # the probe gets through: the others are due at once
            clock.shift(timedelta(minutes=1))
            sweep()
    assert_received_exactly_as_stored(down, down_endpoint["id"])
    assert len(receiver.received) == 6, "the live endpoint got nothing twice"
    assert {d.status for d in deliveries()} == {"delivered"}
    down.stop()


@pytest.fixture
def celery_webhook_shop(saleor, make_live_server, redis_url, postgres, tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEP_GRACE", "2")
    server = make_live_server(runner=None, redis_url=redis_url, webhooks_allow_local=True)
    result = saleor.install(f"{server.url}/api/manifest")
    assert result.response.status_code == 200
    admin = Admin(server.app.test_client(), saleor, result.app)
    workers = []

    def start_worker():
        env = worker_env(server.app.config["SETTINGS"], WEBHOOKS_ALLOW_LOCAL="1", WEBHOOK_RETRY_BASE_SECONDS="1")
        worker = CeleryWorker(env, tmp_path / f"worker{len(workers)}.log")
        workers.append(worker.start())
        return worker

    yield admin, start_worker
    for worker in workers:
        worker.stop()


def test_events_survive_a_dead_receiver_and_a_killed_worker(celery_webhook_shop, saleor):
    admin, start_worker = celery_webhook_shop
    down = Receiver()  # the merchant's system is down
    created = admin.post("/api/admin/webhooks", {"url": down.url})
    assert created.status_code == 201
    down.secrets.append(created.get_json()["secret"])
    endpoint_id = created.get_json()["endpoint"]["id"]

    worker = start_worker()
    order = saleor.create_order("alice@example.com", first_name="Alice", paid=True)
    saleor.checkout_complete(order)
    code = wait_until(lambda: advocate_code("alice@example.com"), timeout=60)
    assert code, worker.log()[-3000:]
    friends = [referred_order(saleor, code, email=f"friend{i}@example.com") for i in range(2)]
    for friend in friends:
        assert wait_until(
            lambda friend=friend: len([c for c in coupons_for(friend["id"]) if c.state == "issued"]) == 2, timeout=60
        ), worker.log()[-3000:]
    # alice enrolled; per friend: enrolled, attributed, approved, two rewards issued
    assert wait_until(lambda: len(stored_messages()) == 11, timeout=30)
    assert wait_until(lambda: attempts_to(endpoint_id) >= 3, timeout=30)
    assert {d.status for d in deliveries()} == {"pending"}

    worker.kill()  # SIGKILL mid-retries: nothing acknowledged, nothing cleaned up
    down.start()
    worker = start_worker()
    assert wait_until(lambda: {d.status for d in deliveries()} == {"delivered"}, timeout=120), worker.log()[-3000:]
    assert_received_exactly_as_stored(down, endpoint_id)
    assert sorted(r.payload["type"] for r in down.received) == sorted(
        ["advocate.enrolled"] * 3 + ["referral.attributed", "referral.approved"] * 2 + ["reward.issued"] * 4
    )
    down.stop()
