"""A gift card is created once even when the worker dies after Saleor made it and before our commit:
Saleor generates the code, so the retry finds the card by the key in its metadata instead of
creating another. Revoking a reward whose card exists but was never recorded finds it the same way."""

from __future__ import annotations

import pytest

from plugin.coupons import giftcards
from plugin.coupons.models import Coupon
from plugin.coupons.tasks import issue_coupon
from plugin.db import session_scope
from tests.flows import coupons_for, friend_order, new_advocate, rewards_left_reserved, set_program, tenant_id


@pytest.fixture
def shop(shop):
    """These tests drive the emulated Saleor directly: the installed shop's emulator."""
    return shop.saleor


class WorkerKilled(Exception):
    pass


def creates(saleor) -> int:
    return sum(1 for r in saleor.requests if r.query and "giftCardCreate" in r.query)


def store_credit_reserved(shop, monkeypatch):
    """A friend's order approved, its store credit reserved but not issued yet."""
    set_program(default_rewards={"referrer": {"type": "STORE_CREDIT", "value": "20"}})
    code = new_advocate(shop)
    with rewards_left_reserved(monkeypatch):
        order = friend_order(shop, "bob@example.com", code=code)
    credit = next(c for c in coupons_for(order["id"]) if c.purpose == Coupon.REFERRER_REWARD)
    assert credit.state == Coupon.RESERVED and credit.lookup_key.startswith("CREDIT-")
    return order, credit


def die_after_saleor_created_the_card(monkeypatch):
    real = giftcards.create_in_saleor

    def create_then_die(client, coupon, note):
        real(client, coupon, note)
        raise WorkerKilled("the worker died before committing")

    monkeypatch.setattr(giftcards, "create_in_saleor", create_then_die)
    return real


def test_a_retry_after_a_crash_finds_the_card_instead_of_making_a_second(shop, monkeypatch):
    order, credit = store_credit_reserved(shop, monkeypatch)
    real = die_after_saleor_created_the_card(monkeypatch)
    with pytest.raises(WorkerKilled):
        issue_coupon(tenant_id(), credit.id)
    cards = shop.gift_cards()
    assert [c["metadata"] for c in cards.values()] == [{"referral_reward_id": credit.lookup_key}]
    with session_scope() as session:
        assert session.get(Coupon, credit.id).state == Coupon.RESERVED  # our transaction rolled back

    monkeypatch.setattr(giftcards, "create_in_saleor", real)
    assert issue_coupon(tenant_id(), credit.id) == "issued"  # the sweeper's retry
    assert issue_coupon(tenant_id(), credit.id) == "skipped"
    assert creates(shop) == 1 and len(shop.gift_cards()) == 1
    issued = next(c for c in coupons_for(order["id"]) if c.purpose == Coupon.REFERRER_REWARD)
    assert issued.state == Coupon.ISSUED and issued.code == next(iter(cards))
    assert issued.saleor_gift_card_id == next(iter(cards.values()))["id"]


def test_a_refund_after_the_crash_deactivates_the_card_nobody_recorded(shop, monkeypatch):
    order, credit = store_credit_reserved(shop, monkeypatch)
    die_after_saleor_created_the_card(monkeypatch)
    with pytest.raises(WorkerKilled):
        issue_coupon(tenant_id(), credit.id)
    shop.refund(order)
    ((code, card),) = shop.gift_cards().items()
    assert card["is_active"] is False
    with session_scope() as session:
        assert session.get(Coupon, credit.id).state == Coupon.REVOKED
    assert creates(shop) == 1


def test_balance_spent_outside_order_gift_cards_is_read_by_the_sweeper(shop, monkeypatch):
    """Saleor 3.23's gift-card payment gateway (transactionInitialize) spends a card without listing
    it in order.giftCards: the sweeper's hourly read of the shop's used reward cards records it."""
    from plugin import sweeper

    set_program(default_rewards={"referrer": {"type": "STORE_CREDIT", "value": "20"}})
    code = new_advocate(shop)
    order = friend_order(shop, "bob@example.com", code=code)
    credit = next(c for c in coupons_for(order["id"]) if c.purpose == Coupon.REFERRER_REWARD)
    with shop.state.lock:  # spent through the payment gateway (not emulated): balance and usage only
        card = shop.state.gift_card_by_code(credit.code)
        card.current_balance, card.used_by_email = card.current_balance - 15, "alice@example.com"
    monkeypatch.setattr(sweeper, "_gift_cards_refreshed", {})
    assert sweeper.sweep()["gift_card_tenants"] == 1
    with session_scope() as session:
        coupon = session.get(Coupon, credit.id)
        assert (coupon.state, coupon.redeemed_value) == (Coupon.ISSUED, 15)
    assert sweeper.sweep()["gift_card_tenants"] == 0  # not again within the hour
