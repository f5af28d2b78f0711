"""Reward cost per kind in the program report: face value issued, value redeemed (a gift card's
spent balance included) and what each kind cost, so net ROI stays true with every kind."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from plugin.analytics import queries
from plugin.coupons.models import Coupon
from plugin.db import session_scope
from tests.flows import coupons_for, friend_order, new_advocate, own_address, set_program, tenant_id


@pytest.fixture
def shop(shop):
    """These tests drive the emulated Saleor directly: the installed shop's emulator."""
    return shop.saleor


def report_group(channel: str = "default-channel") -> dict:
    tid = tenant_id()
    with session_scope(tid) as session:
        period = queries.Period(date.today() - timedelta(days=1), date.today() + timedelta(days=1))
        report = queries.program_report(
            session, tid, period, {"default-channel": {"name": "Default", "currency": "USD"}}
        )
    return next(g for g in report["groups"] if g["channel"] == channel)


def test_cost_per_kind_counts_face_value_and_what_customers_spent(shop):
    set_program(
        default_rewards={"referrer": {"type": "STORE_CREDIT", "value": "20"}, "friend": {"type": "FREE_SHIPPING"}}
    )
    code = new_advocate(shop)
    kept = friend_order(shop, "bob@example.com", code=code)
    refunded = friend_order(shop, "carol@example.com", code=code)
    card_kept = next(c for c in coupons_for(kept["id"]) if c.purpose == Coupon.REFERRER_REWARD)
    card_refunded = next(c for c in coupons_for(refunded["id"]) if c.purpose == Coupon.REFERRER_REWARD)
    shipping = next(c for c in coupons_for(kept["id"]) if c.purpose == Coupon.FRIEND_REWARD)

    for card, amount in ((card_kept, "12.50"), (card_refunded, "5.00")):  # the advocate spends from both cards
        spend = shop.create_order(
            "alice@example.com",
            subtotal=amount,
            gift_cards=[card.code],
            paid=True,
            shipping_address=own_address("Alice"),
        )
        shop.checkout_complete(spend)
    used = shop.create_order(
        "bob@example.com",
        subtotal="30.00",
        shipping="8.90",
        voucher_code=shipping.code,
        paid=True,
        shipping_address=own_address("Bob"),
    )
    shop.checkout_complete(used)
    shop.refund(refunded)  # its card is deactivated with 15 left; the 5 spent stays a cost

    money = report_group()["money"]
    assert money["reward_by_kind"] == {
        "FREE_SHIPPING": {
            "issued": 2,
            "used": 1,
            "revoked": 1,
            "face_value": "0.00",
            "redeemed": "8.90",
            "cost": "8.90",
        },
        "STORE_CREDIT": {
            "issued": 2,
            "used": 0,
            "revoked": 1,
            "face_value": "20.00",
            "redeemed": "17.50",
            "cost": "25.00",
        },
    }
    assert money["reward_cost"] == "33.90"
    assert money["reward_redeemed"] == "26.40"
    assert money["revenue"] == "40.00"  # only the referral that stands
