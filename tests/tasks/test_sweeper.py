"""The sweeper finishes whatever was stored but never processed."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope, utcnow
from plugin.tasks import Runner
from plugin.webhooks.models import WebhookEvent
from tests.flows import coupons_for, make_advocate, referred_order


class BrokerDown(Runner):
    def enqueue(self, name, *args, countdown=0):
        raise ConnectionError("broker unreachable")


def test_events_stored_while_the_broker_was_down_are_processed_by_the_sweep(shop):
    saleor, app = shop.saleor, shop.flask_app
    code = make_advocate(saleor)
    working_runner = app.extensions["task_runner"]
    app.extensions["task_runner"] = BrokerDown()
    order = referred_order(saleor, code)
    with session_scope() as session:
        pending = session.scalars(select(WebhookEvent).where(WebhookEvent.order_id == order["id"])).all()
    assert pending and all(e.status == WebhookEvent.PENDING for e in pending), "acknowledged and stored"
    assert coupons_for(order["id"]) == []

    app.extensions["task_runner"] = working_runner
    from plugin.sweeper import sweep

    with app.app_context():
        assert sweep()["events"] == 0, "young events are left to their tasks"
        with time_machine.travel(utcnow() + timedelta(minutes=2)):
            counts = sweep()
    assert counts["events"] == len(pending)
    assert [c.state for c in coupons_for(order["id"])] == [Coupon.ISSUED, Coupon.ISSUED]
    with session_scope() as session:
        assert all(
            e.status == WebhookEvent.DONE
            for e in session.scalars(select(WebhookEvent).where(WebhookEvent.order_id == order["id"]))
        )


class Recorder(Runner):
    def __init__(self):
        self.calls = []

    def enqueue(self, name, *args, countdown=0):
        self.calls.append((name, args))

    def take(self, name):
        taken = [args for n, args in self.calls if n == name]
        self.calls = [(n, a) for n, a in self.calls if n != name]
        return taken


def test_coupons_whose_saleor_call_failed_are_issued_by_the_sweep(shop):
    saleor, app = shop.saleor, shop.flask_app
    code = make_advocate(saleor)
    working_runner = app.extensions["task_runner"]
    recorder = app.extensions["task_runner"] = Recorder()
    order = referred_order(saleor, code)
    from plugin.coupons.tasks import issue_rewards
    from plugin.webhooks.tasks import process_event

    with app.app_context():
        for args in recorder.take("process_event"):
            process_event(*args)
        saleor.faults.fail_next(100, status=502)
        for args in recorder.take("issue_rewards"):
            try:
                issue_rewards(*args)
            except Exception:  # noqa: BLE001 - Saleor is down: the task fails and is retried later
                pass
    coupons = coupons_for(order["id"])
    assert [c.state for c in coupons] == [Coupon.RESERVED, Coupon.RESERVED]
    assert all(c.last_error for c in coupons), "the failure is visible"
    saleor.faults.reset()
    app.extensions["task_runner"] = working_runner
    from plugin.sweeper import sweep

    with app.app_context(), time_machine.travel(utcnow() + timedelta(minutes=2)):
        assert sweep()["coupons"] == 2
    assert [c.state for c in coupons_for(order["id"])] == [Coupon.ISSUED, Coupon.ISSUED]
    assert len([c for c in saleor.voucher_codes() if c.startswith(("THANKS-", "WELCOME-"))]) == 2


def test_a_sweep_does_not_requeue_what_it_queued_moments_ago(shop):
    """A backlog in the broker is not multiplied: each row waits a grace period between copies."""
    saleor, app = shop.saleor, shop.flask_app
    code = make_advocate(saleor)
    app.extensions["task_runner"] = BrokerDown()
    referred_order(saleor, code)
    recorder = app.extensions["task_runner"] = Recorder()
    from plugin.sweeper import sweep

    start = utcnow()
    with app.app_context():
        with time_machine.travel(start + timedelta(minutes=2)):
            first = sweep()["events"]
        with time_machine.travel(start + timedelta(minutes=2, seconds=10)):
            assert sweep()["events"] == 0
        with time_machine.travel(start + timedelta(minutes=3)):
            assert sweep()["events"] == first
    assert first > 0 and len(recorder.take("process_event")) == 2 * first
