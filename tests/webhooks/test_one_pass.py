"""An order's deliveries arrive together (ORDER_CREATED, ORDER_PAID, ORDER_FULLY_PAID, ORDER_UPDATED):
they are handled in one pass, with one read of the order from Saleor, and never twice."""

from __future__ import annotations

from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.webhooks.models import WebhookEvent
from plugin.webhooks.relay import publish_unqueued
from tests.flows import coupons_for, make_advocate, referred_order
from tests.webhooks.test_relay import RelayedRunner


def _reads(saleor) -> int:
    return sum(1 for r in saleor.requests if r.operation == "OrderForReferral")


def _statuses(order_id: str) -> list[str]:
    with session_scope() as session:
        return list(session.scalars(select(WebhookEvent.status).where(WebhookEvent.order_id == order_id)))


def test_the_relay_hands_over_an_orders_deliveries_as_one_task_with_one_read(shop):
    saleor, app = shop.saleor, shop.flask_app
    code = make_advocate(saleor)
    working = app.extensions["task_runner"]
    app.extensions["task_runner"] = RelayedRunner()
    order = referred_order(saleor, code)
    assert _statuses(order["id"]) == ["pending"] * 4

    published = []
    with app.app_context():
        publish_unqueued(lambda tenant_id, *event_ids: published.append((tenant_id, *event_ids)))
    assert len(published) == 1 and len(published[0]) == 1 + 4, "one message carrying the order's four events"

    app.extensions["task_runner"] = working
    from plugin.webhooks.tasks import process_event

    reads = _reads(saleor)
    with app.app_context():
        assert process_event(*published[0]) == "done"
        assert process_event(*published[0]) == "skipped"
    assert _reads(saleor) - reads == 1, "one read of the order for all four deliveries"
    assert _statuses(order["id"]) == ["done"] * 4
    assert sorted(c.state for c in coupons_for(order["id"])) == [Coupon.ISSUED, Coupon.ISSUED]


def test_a_single_events_task_takes_along_the_orders_other_stored_deliveries(shop):
    """Deliveries stored before the read are covered by it; each one's own task then finds it done."""
    saleor, app = shop.saleor, shop.flask_app
    code = make_advocate(saleor)
    working = app.extensions["task_runner"]
    recorder = app.extensions["task_runner"] = RelayedRunner()
    recorder.relays_stored_events = False  # the in-process shape: one task per stored delivery
    order = referred_order(saleor, code)
    tasks = [args for name, args in recorder.calls if name == "process_event"]
    assert len(tasks) == 4

    app.extensions["task_runner"] = working
    from plugin.webhooks.tasks import process_event

    reads = _reads(saleor)
    with app.app_context():
        outcomes = [process_event(*args) for args in tasks]
    assert outcomes == ["done", "skipped", "skipped", "skipped"]
    assert _reads(saleor) - reads == 1
    assert _statuses(order["id"]) == ["done"] * 4
    assert sorted(c.state for c in coupons_for(order["id"])) == [Coupon.ISSUED, Coupon.ISSUED]
