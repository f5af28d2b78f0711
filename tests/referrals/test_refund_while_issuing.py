"""The narrowest race, made deterministic: the refund lands while the second reward is being
created in Saleor (the first is already issued). The referral must end revoked, not
"issued" with its codes gone — nor issued with live codes."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from plugin.coupons import service
from plugin.coupons.models import Coupon
from plugin.coupons.tasks import issue_coupon, issue_rewards
from plugin.db import session_scope
from plugin.referrals.models import Referral
from tests.flows import (
    coupons_for,
    friend_order,
    ledger_of,
    live_codes,
    new_advocate,
    referral_for,
    rewards_left_reserved,
    tenant_id,
)


@pytest.fixture
def served(shop, postgres):
    return shop.saleor, shop.flask_app


def test_refund_during_the_second_rewards_creation_ends_revoked(served, monkeypatch):
    saleor, app = served
    code = new_advocate(saleor)

    # Let the payment reserve both rewards, but issue them by hand below.
    with rewards_left_reserved(monkeypatch):
        order = friend_order(saleor, "bob@example.com", code=code)
    first, second = sorted(c.id for c in coupons_for(order["id"]))
    assert referral_for(order["id"]).state == Referral.APPROVED

    tid = tenant_id()
    with app.app_context():
        issue_coupon(tid, first)

    real_create = service.create_in_saleor
    inside, go_on = threading.Event(), threading.Event()

    def slow_create(client, coupon):
        if coupon.id == second:
            inside.set()
            go_on.wait(10)
        return real_create(client, coupon)

    monkeypatch.setattr(service, "create_in_saleor", slow_create)

    def issue_second():
        with app.app_context():
            issue_coupon(tid, second)

    def refund():
        # One delivery only: a later duplicate must not be what rescues the state.
        saleor.refund(order, event_order=["ORDER_FULLY_REFUNDED"])

    issuing = threading.Thread(target=issue_second)
    issuing.start()
    assert inside.wait(10)
    refunding = threading.Thread(target=refund)
    refunding.start()
    time.sleep(1.0)  # the refund gets as far as it can while the second code is being created
    go_on.set()
    issuing.join(20)
    refunding.join(20)
    assert not issuing.is_alive() and not refunding.is_alive()

    with session_scope() as session:
        referral = session.scalar(select(Referral).where(Referral.saleor_order_id == order["id"]))
        states = sorted(session.scalars(select(Coupon.state).where(Coupon.referral_id == referral.id)))
    assert referral.state == Referral.REVOKED
    transitions = [(step[0], step[1]) for step in ledger_of(order["id"])]
    assert not [t for t in transitions if t[0] == Referral.REVOKED], transitions  # revoked is final
    assert states == [Coupon.REVOKED, Coupon.REVOKED]
    assert live_codes(saleor, {c.code for c in coupons_for(order["id"])}) == set()


def test_refund_while_both_rewards_are_created_in_one_request_ends_revoked(served, monkeypatch):
    """The referral's rewards go to Saleor together (one aliased request per step); a refund that
    lands in the middle waits for the coupons' locks and then takes back both codes."""
    saleor, app = served
    code = new_advocate(saleor)
    with rewards_left_reserved(monkeypatch):
        order = friend_order(saleor, "bob@example.com", code=code)
    referral = referral_for(order["id"])
    assert referral.state == Referral.APPROVED

    real_create = service.create_vouchers_in_saleor
    inside, go_on = threading.Event(), threading.Event()
    creates_before = sum(1 for r in saleor.requests if r.operation and r.operation.startswith("VoucherCreate"))

    def slow_create(client, coupons):
        inside.set()
        go_on.wait(10)
        return real_create(client, coupons)

    monkeypatch.setattr(service, "create_vouchers_in_saleor", slow_create)
    outcome = []

    def issue_both():
        with app.app_context():
            outcome.append(issue_rewards(tenant_id(), referral.id))

    issuing = threading.Thread(target=issue_both)
    issuing.start()
    assert inside.wait(10)
    refunding = threading.Thread(target=lambda: saleor.refund(order, event_order=["ORDER_FULLY_REFUNDED"]))
    refunding.start()
    time.sleep(1.0)
    go_on.set()
    issuing.join(20)
    refunding.join(20)
    assert not issuing.is_alive() and not refunding.is_alive()

    assert outcome == ["issued"]
    creates = [r.operation for r in saleor.requests if r.operation and r.operation.startswith("VoucherCreate")]
    assert creates[creates_before:] == ["VoucherCreateMany"], "both vouchers in one request"
    assert referral_for(order["id"]).state == Referral.REVOKED
    assert sorted(c.state for c in coupons_for(order["id"])) == [Coupon.REVOKED, Coupon.REVOKED]
    assert live_codes(saleor, {c.code for c in coupons_for(order["id"])}) == set()
