"""A refund takes every kind of reward back: unused vouchers (fixed, percentage, free shipping) are
deleted in Saleor, unused gift cards (store credit, commission) deactivated; what was already spent
is recorded as the referral's shortfall, with the amount. A milestone follows docs/REWARDS.md."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from tests.flows import (
    coupon_ledger,
    coupons_for,
    friend_order,
    new_advocate,
    own_address,
    referral_for,
    set_program,
)
from tests.saleor_emulator.giftcards import GiftCardNotApplicable


@pytest.fixture
def shop(shop):
    """These tests drive the emulated Saleor directly: the installed shop's emulator."""
    return shop.saleor


KINDS = {
    "FIXED": {"type": "FIXED", "value": "10"},
    "PERCENTAGE": {"type": "PERCENTAGE", "value": "10"},
    "FREE_SHIPPING": {"type": "FREE_SHIPPING"},
    "STORE_CREDIT": {"type": "STORE_CREDIT", "value": "20"},
    "COMMISSION": {"type": "COMMISSION", "value": "10", "cap": "15"},
}


def rewarded(shop, referrer: dict, friend: dict | None = None, **order_kwargs):
    set_program(default_rewards={"referrer": referrer, "friend": friend or {"type": "PERCENTAGE", "value": "10"}})
    code = new_advocate(shop)
    order = friend_order(shop, "bob@example.com", code=code, **order_kwargs)
    assert referral_for(order["id"]).state == "issued"
    return order, next(c for c in coupons_for(order["id"]) if c.purpose == Coupon.REFERRER_REWARD)


def coupon(coupon_id: int) -> Coupon:
    with session_scope() as session:
        return session.get(Coupon, coupon_id)


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_unused_reward_of_every_kind_is_removed_in_saleor(shop, kind):
    order, reward = rewarded(shop, KINDS[kind])
    assert reward.value_type == kind
    gift_card = kind in ("STORE_CREDIT", "COMMISSION")
    if gift_card:
        assert shop.gift_cards()[reward.code]["is_active"] is True
    else:
        assert shop.voucher_codes()[reward.code]["is_active"] is True

    shop.refund(order)

    after = coupon(reward.id)
    assert after.state == "revoked" and referral_for(order["id"]).shortfall == 0
    if gift_card:
        card = shop.gift_cards()[reward.code]
        assert card["is_active"] is False and card["current_balance"] == card["initial_balance"]
        assert card["events"][-2:] == ["deactivated", "note_added"]
        assert card["notes"][-1] == (
            "Taken back by the referral program. Referral revoked: The friend's order was fully refunded."
        )
        with pytest.raises(GiftCardNotApplicable):  # checkout refuses it from now on
            shop.create_order("alice@example.com", subtotal="5.00", gift_cards=[reward.code])
    else:
        assert reward.code not in shop.voucher_codes()  # deleted, not just marked
    assert coupon_ledger(reward.id)[-1][1:3] == ("revoked", "Referral revoked: The friend's order was fully refunded.")


def test_a_partly_used_gift_card_is_deactivated_and_the_spent_part_is_the_shortfall(shop):
    order, reward = rewarded(shop, KINDS["STORE_CREDIT"])
    spend = shop.create_order(
        "alice@example.com",
        subtotal="12.50",
        gift_cards=[reward.code],
        paid=True,
        shipping_address=own_address("Alice"),
    )
    shop.checkout_complete(spend)
    assert coupon(reward.id).redeemed_value == Decimal("12.50")

    shop.refund(order)

    card = shop.gift_cards()[reward.code]
    assert card["is_active"] is False and card["current_balance"] == Decimal("7.50")  # the rest can't be spent
    after = coupon(reward.id)
    assert (after.state, after.redeemed_value) == ("revoked", Decimal("12.50"))
    assert referral_for(order["id"]).shortfall == Decimal("12.50")
    assert coupon_ledger(reward.id)[-1][1:3] == (
        "revoked",
        "Referral revoked: The friend's order was fully refunded. Partly spent: 12.5 USD of 20 USD was "
        "used before the card was deactivated; that part is a shortfall.",
    )
    with pytest.raises(GiftCardNotApplicable):
        shop.create_order("alice@example.com", subtotal="5.00", gift_cards=[reward.code])


def test_a_gift_card_spent_in_full_is_a_shortfall_of_its_whole_value(shop):
    order, reward = rewarded(shop, KINDS["STORE_CREDIT"])
    spend = shop.create_order(
        "alice@example.com",
        subtotal="30.00",
        gift_cards=[reward.code],
        paid=True,
        shipping_address=own_address("Alice"),
    )
    shop.checkout_complete(spend)
    assert coupon(reward.id).state == "used"
    shop.refund(order)
    assert coupon(reward.id).state == "used"
    assert referral_for(order["id"]).shortfall == Decimal("20")


def test_used_free_shipping_is_a_shortfall_of_the_shipping_it_took_off(shop):
    order, reward = rewarded(shop, KINDS["FREE_SHIPPING"])
    spend = shop.create_order(
        "alice@example.com",
        subtotal="30.00",
        shipping="8.90",
        voucher_code=reward.code,
        paid=True,
        shipping_address=own_address("Alice"),
    )
    shop.checkout_complete(spend)
    assert (coupon(reward.id).state, coupon(reward.id).redeemed_value) == ("used", Decimal("8.90"))
    shop.refund(order)
    assert referral_for(order["id"]).shortfall == Decimal("8.90")


def test_revoking_an_earlier_friend_leaves_a_milestone_paid_and_says_so(shop):
    set_program(default_rewards={"milestones": [{"at": 2, "reward": {"type": "STORE_CREDIT", "value": "25"}}]})
    code = new_advocate(shop)
    first = friend_order(shop, "friend1@example.com", code=code)
    second = friend_order(shop, "friend2@example.com", code=code)
    bonus = next(c for c in coupons_for(second["id"]) if c.purpose == Coupon.MILESTONE_REWARD)

    shop.refund(first)

    assert referral_for(first["id"]).state == "revoked"
    assert coupon(bonus.id).state == "issued" and shop.gift_cards()[bonus.code]["is_active"] is True
    assert coupon_ledger(bonus.id)[-1] == (
        "issued",
        "issued",
        f"Friend #1 (referral {referral_for(first['id']).id}), counted toward this milestone, "
        "was revoked; the bonus stays: 2 friends were rewarded when it was reached.",
        "system",
    )
    shop.refund(second)  # the friend that reached it: the bonus goes with its other rewards
    assert coupon(bonus.id).state == "revoked" and shop.gift_cards()[bonus.code]["is_active"] is False
    with session_scope() as session:
        assert session.scalar(select(Coupon.state).where(Coupon.id == bonus.id)) == "revoked"
