"""A per-tenant hold period: rewards wait for the return window, then the sweeper issues them —
unless the order was refunded or cancelled meanwhile. The clock is frozen with time_machine."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from plugin.coupons.models import Coupon
from plugin.db import utcnow
from plugin.fraud.explain import advocate_message
from plugin.sweeper import sweep
from tests.flows import (
    coupons_for,
    friend_order,
    ledger_of,
    live_codes,
    new_advocate,
    referral_for,
    set_program,
)


def _held_order(saleor, hold_days=14, email="bob@example.com"):
    set_program(hold_days=hold_days)
    code = new_advocate(saleor)
    order = friend_order(saleor, email, code=code)
    referral = referral_for(order["id"])
    assert referral.state == "held" and referral.decision == "allow"
    assert coupons_for(order["id"]) == []
    assert (
        timedelta(days=hold_days) - timedelta(minutes=1) < referral.hold_until - utcnow() <= timedelta(days=hold_days)
    )
    assert ledger_of(order["id"])[-1] == ("pending", "held", f"Held for the {hold_days}-day return window.", "system")
    return order, referral


def test_held_reward_is_issued_by_the_sweeper_when_the_hold_ends(shop, saleor, smtp):
    order, referral = _held_order(saleor)
    assert advocate_message(referral) == (
        f"Confirmed: your reward will be released on {referral.hold_until.date().isoformat()}, after the return period."
    )
    mails_before = len(smtp.messages)

    with time_machine.travel(utcnow() + timedelta(days=13, hours=23), tick=True):
        sweep()
    assert referral_for(order["id"]).state == "held"
    assert coupons_for(order["id"]) == []

    with time_machine.travel(referral.hold_until + timedelta(minutes=5), tick=True):
        counts = sweep()
    assert counts["hold_tenants"] == 1
    assert referral_for(order["id"]).state == "issued"
    coupons = coupons_for(order["id"])
    assert [c.state for c in coupons] == [Coupon.ISSUED, Coupon.ISSUED]
    assert live_codes(saleor, {c.code for c in coupons}) == {c.code for c in coupons}
    steps = ledger_of(order["id"])
    assert [s[1] for s in steps] == ["pending", "held", "approved", "issued"]
    assert steps[2][2:] == ("Hold period ended.", "system")
    messages = smtp.wait_for(mails_before + 2)
    assert {m["To"] for m in messages[mails_before:]} >= {"alice@example.com", "bob@example.com"}


def test_refund_during_the_hold_means_nothing_is_ever_issued(shop, saleor):
    order, referral = _held_order(saleor)
    saleor.refund(order)
    assert referral_for(order["id"]).state == "revoked"

    with time_machine.travel(referral.hold_until + timedelta(hours=1), tick=True):
        sweep()
    assert referral_for(order["id"]).state == "revoked"
    assert coupons_for(order["id"]) == []
    assert not [r for r in saleor.requests if r.query and "voucherCreate" in r.query and "WELCOME" in str(r.variables)]


def test_refund_seen_only_in_order_updated_is_respected(shop, saleor):
    """ORDER_REFUNDED got lost; the ORDER_UPDATED of the same refund is enough."""
    order, referral = _held_order(saleor)
    saleor.refund(order, event_order=["ORDER_UPDATED"])
    with time_machine.travel(referral.hold_until + timedelta(hours=1), tick=True):
        sweep()
    assert referral_for(order["id"]).state == "revoked"
    assert coupons_for(order["id"]) == []


def test_a_rule_hold_waits_for_the_merchant_not_for_the_clock(shop, saleor):
    set_program(hold_days=3)
    code = new_advocate(saleor)
    order = friend_order(saleor, "bob@mailinator.com", code=code)
    referral = referral_for(order["id"])
    assert (referral.state, referral.decision, referral.hold_until) == ("held", "hold", None)
    with time_machine.travel(utcnow() + timedelta(days=30), tick=True):
        sweep()
    assert referral_for(order["id"]).state == "held"
    assert coupons_for(order["id"]) == []
