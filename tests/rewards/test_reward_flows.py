"""Rewards that grow with the advocate, driven through the real flow (emulated Saleor → signed
webhooks → the app → vouchers and gift cards created in Saleor → e-mails at the SMTP sink).

* tiers: the 1st, 3rd and 6th rewarded friend earn the configured tier's reward;
* a milestone fires once, at the 5th friend, whatever arrives twice or at the same moment;
* commission = the configured % of the friend's subtotal net of discounts, without shipping and
  tax, capped, paid as a gift card;
* every kind is a real voucher or gift card with the right type, value, currency, expiry and use.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope, utcnow
from tests.flows import (
    advocate_row,
    coupons_for,
    friend_order,
    ledger_of,
    mails_with,
    new_advocate,
    own_address,
    referral_for,
    set_program,
)


@pytest.fixture
def shop(shop):
    """These tests drive the emulated Saleor directly: the installed shop's emulator."""
    return shop.saleor


TIERS = {
    "referrer": {"type": "FIXED", "value": "10"},
    "friend": {"type": "PERCENTAGE", "value": "10"},
    "tiers": [
        {"from": 3, "reward": {"type": "FIXED", "value": "15"}},
        {"from": 6, "reward": {"type": "STORE_CREDIT", "value": "20"}},
    ],
    "milestones": [{"at": 5, "reward": {"type": "STORE_CREDIT", "value": "50"}}],
}
ADD_PROMO = """mutation($id: ID!, $code: String!) { checkoutAddPromoCode(id: $id, promoCode: $code) {
  errors { field code message } } }"""
VOUCHER_QUERY = """query($id: ID!) { voucher(id: $id) { type singleUse applyOncePerCustomer discountValueType endDate
  channelListings { channel { slug } discountValue currency } codes(first: 5) { edges { node { code isActive } } } } }"""


def app_token(saleor) -> str:
    return saleor.app_by_identifier("saleor.app.referrals").token


def voucher(saleor, code: str) -> dict:
    voucher_id = saleor.voucher_codes()[code]["voucher_id"]
    return saleor.execute(VOUCHER_QUERY, {"id": voucher_id}, token=app_token(saleor))["data"]["voucher"]


def reward(order_id: str, purpose: str) -> Coupon | None:
    return next((c for c in coupons_for(order_id) if c.purpose == purpose), None)


def milestone_coupons(advocate_id: int) -> list[Coupon]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(Coupon).where(Coupon.advocate_id == advocate_id, Coupon.purpose == Coupon.MILESTONE_REWARD)
            )
        )


def friends(shop, code: str, count: int, start: int = 1, **order_kwargs) -> list[dict]:
    return [
        friend_order(shop, f"friend{n}@example.com", code=code, **order_kwargs) for n in range(start, start + count)
    ]


def test_first_third_and_sixth_friend_earn_their_tiers_reward(shop, smtp):
    set_program(default_rewards=TIERS)
    code = new_advocate(shop)
    orders = friends(shop, code, 6)

    assert [referral_for(o["id"]).friend_rank for o in orders] == [1, 2, 3, 4, 5, 6]
    earned = [reward(o["id"], Coupon.REFERRER_REWARD) for o in orders]
    assert [(c.value_type, c.value, c.state) for c in earned] == [
        ("FIXED", Decimal("10"), "issued"),
        ("FIXED", Decimal("10"), "issued"),
        ("FIXED", Decimal("15"), "issued"),
        ("FIXED", Decimal("15"), "issued"),
        ("FIXED", Decimal("15"), "issued"),
        ("STORE_CREDIT", Decimal("20"), "issued"),
    ]
    for coupon, amount in ((earned[0], 10.0), (earned[2], 15.0)):
        listing = voucher(shop, coupon.code)
        assert listing["type"] == "ENTIRE_ORDER" and listing["discountValueType"] == "FIXED"
        assert listing["channelListings"] == [
            {"channel": {"slug": "default-channel"}, "discountValue": amount, "currency": "USD"}
        ]
        assert listing["singleUse"] is True
    card = shop.gift_cards()[earned[5].code]  # the 6th friend's reward is a gift card Saleor made
    assert (card["initial_balance"], card["current_balance"], card["currency"]) == (Decimal("20"), Decimal("20"), "USD")
    assert card["tags"] == ["referral-reward"] and card["is_active"] is True
    assert card["expiry_date"] == earned[5].expires_at.date()
    assert card["metadata"] == {"referral_reward_id": earned[5].lookup_key}
    assert shop.state.notifications == []  # we e-mail it, Saleor does not
    assert ledger_of(orders[2]["id"])[-2][2] == "Friend #3 of this advocate: advocate reward $15."

    messages = smtp.wait_for(20)
    # Each reward e-mail tells the advocate how far the next tier or milestone is.
    progress = [mails_with(messages, c.code)[0].get_body(preferencelist=("plain",)).get_content() for c in earned]
    assert "1 more friend to unlock $15" in progress[0]
    assert "3 more friends and you also get $50 store credit" in progress[1]
    assert "1 more friend and you also get $50 store credit" in progress[3]
    assert [("more friend" in text) for text in progress[4:]] == [False, False]  # all unlocked and reached
    to_alice = mails_with(messages, earned[5].code)
    assert [m["To"] for m in to_alice] == ["alice@example.com"]
    text = to_alice[0].get_body(preferencelist=("plain",)).get_content()
    assert "Gift card code: " + earned[5].code in text
    assert "As your reward you get $20 store credit." in text
    assert "Whatever you don't spend stays on the card for your next order." in text


def test_the_fifth_friend_triggers_the_milestone_once_under_duplicate_and_concurrent_deliveries(shop, smtp, postgres):
    set_program(default_rewards=TIERS)
    code = new_advocate(shop)
    friends(shop, code, 4)
    fifth = friend_order(shop, "friend5@example.com", code=code, deliver=False)
    sixth = friend_order(shop, "friend6@example.com", code=code, deliver=False)

    # Both orders' events, every delivery twice, all 12 at the same moment: two friends race to be #5.
    copies = []
    for order in (fifth, sixth):
        for delivery in shop.prepare_deliveries(
            ["ORDER_PAID", "ORDER_FULLY_PAID", "ORDER_UPDATED"], order=shop.state.order_by_ref(order)
        ):
            copies += [delivery, delivery.clone()]
    start = threading.Barrier(len(copies))

    def send(delivery):
        start.wait()
        delivery.send()

    threads = [threading.Thread(target=send, args=(d,)) for d in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {d.status_code for d in copies} == {200}
    for delivery in copies[:2]:  # and Saleor retries one of them later
        delivery.clone().send()

    advocate = advocate_row("alice@example.com")
    ranks = sorted(referral_for(o["id"]).friend_rank for o in (fifth, sixth))
    assert ranks == [5, 6]
    bonuses = milestone_coupons(advocate.id)
    assert len(bonuses) == 1
    bonus = bonuses[0]
    reached = fifth if referral_for(fifth["id"]).friend_rank == 5 else sixth
    assert bonus.referral_id == referral_for(reached["id"]).id
    assert (bonus.award_key, bonus.value_type, bonus.value, bonus.state) == (
        f"milestone:{advocate.id}:5",
        "STORE_CREDIT",
        Decimal("50"),
        "issued",
    )
    cards = {c: g for c, g in shop.gift_cards().items() if g["initial_balance"] == Decimal("50")}
    assert list(cards) == [bonus.code]
    mails = smtp.wait_for(13)
    milestone_mails = [m for m in mails if m["Subject"].startswith("5 friends joined ")]
    assert len(milestone_mails) == 1 and milestone_mails[0]["To"] == "alice@example.com"
    assert bonus.code in milestone_mails[0].get_body(preferencelist=("plain",)).get_content()
    assert {c.purpose for o in (fifth, sixth) for c in coupons_for(o["id"])} == {
        Coupon.REFERRER_REWARD,
        Coupon.FRIEND_REWARD,
        Coupon.MILESTONE_REWARD,
    }
    assert sum(len(coupons_for(o["id"])) for o in (fifth, sixth)) == 5  # 2 + 2 + the one bonus


def test_a_milestone_reached_again_after_a_revocation_is_not_paid_twice(shop, smtp):
    set_program(default_rewards={**TIERS, "milestones": [{"at": 2, "reward": {"type": "FIXED", "value": "25"}}]})
    code = new_advocate(shop)
    first, second = friends(shop, code, 2)
    bonus = reward(second["id"], Coupon.MILESTONE_REWARD)
    assert bonus is not None and bonus.state == "issued"
    shop.refund(second)  # the friend that reached the milestone: its bonus goes with its rewards
    assert reward(second["id"], Coupon.MILESTONE_REWARD).state == "revoked"
    third = friend_order(shop, "friend3@example.com", code=code)
    assert referral_for(third["id"]).friend_rank == 2  # counted again: the revoked friend no longer counts
    assert reward(third["id"], Coupon.MILESTONE_REWARD) is None
    assert ledger_of(third["id"])[-2][2].startswith(
        "Friend #2 reaches the milestone of 2 friends again; its bonus was already paid once"
    )


@pytest.mark.parametrize(
    "subtotal, expected, ledger, mail",
    [
        (
            "80.00",
            "$6.40",
            "Commission 10% of the friend's order subtotal $64 (net of discounts, without shipping and tax) = $6.40.",
            "10% of your friend's order ($64 without shipping and tax).",
        ),
        (
            "400.00",
            "$15",
            "Commission 10% of the friend's order subtotal $320 (net of discounts, without shipping and tax) "
            "= $15 (capped).",
            "10% of your friend's order ($320 without shipping and tax).",
        ),
    ],
)
def test_commission_is_the_configured_percent_of_the_subtotal_net_capped(shop, smtp, subtotal, expected, ledger, mail):
    set_program(default_rewards={"referrer": {"type": "COMMISSION", "value": "10", "cap": "15"}})
    code = new_advocate(shop)
    # Prices with 25 % tax included, 7.50 shipping: the commission is taken from the subtotal net of tax.
    order = friend_order(
        shop, "bob@example.com", code=code, total=None, subtotal=subtotal, shipping="7.50", tax_rate="0.25"
    )
    commission = reward(order["id"], Coupon.REFERRER_REWARD)
    net, amount = Decimal(subtotal) / Decimal("1.25"), Decimal(expected[1:])
    assert (commission.value_type, commission.value, commission.rate, commission.base_amount) == (
        "COMMISSION",
        amount,
        Decimal("10"),
        net,
    )
    card = shop.gift_cards()[commission.code]
    assert (card["initial_balance"], card["currency"], card["is_active"]) == (amount, "USD", True)
    assert card["tags"] == ["referral-reward"]
    assert ledger_of(order["id"])[-2][2] == ledger
    text = mails_with(smtp.wait_for(4), commission.code)[0].get_body(preferencelist=("plain",)).get_content()
    assert mail in text
    assert f"As your reward you get {expected} store credit." in text


def test_each_kind_is_a_real_voucher_or_gift_card_in_the_channels_currency(shop, smtp):
    set_program(
        channels={
            "channel-pln": {
                "referrer": {"type": "STORE_CREDIT", "value": "80"},
                "friend": {"type": "FREE_SHIPPING"},
                "expiry_days": 30,
                "min_order": "0",
            }
        }
    )
    code = new_advocate(shop)
    order = friend_order(shop, "bob@example.com", code=code, channel="channel-pln", total="120.00")
    credit, shipping = reward(order["id"], Coupon.REFERRER_REWARD), reward(order["id"], Coupon.FRIEND_REWARD)

    free = voucher(shop, shipping.code)
    assert free["type"] == "SHIPPING" and free["discountValueType"] == "PERCENTAGE"
    assert free["channelListings"] == [{"channel": {"slug": "channel-pln"}, "discountValue": 100.0, "currency": "PLN"}]
    assert free["singleUse"] is True and free["applyOncePerCustomer"] is True
    assert free["endDate"].startswith(shipping.expires_at.date().isoformat())
    assert abs(shipping.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=5)
    card = shop.gift_cards()[credit.code]
    assert (card["initial_balance"], card["currency"], card["expiry_date"]) == (
        Decimal("80"),
        "PLN",
        credit.expires_at.date(),
    )

    # Free shipping is used once: the shipping comes off, the code is spent, the app records the value.
    used = shop.create_order(
        "bob@example.com",
        channel="channel-pln",
        subtotal="50.00",
        shipping="12.00",
        voucher_code=shipping.code,
        paid=True,
        shipping_address=own_address("Bob"),
    )
    assert used["shippingPrice"]["gross"]["amount"] == 0.0
    shop.checkout_complete(used)
    assert shop.voucher_codes()[shipping.code]["is_active"] is False
    spent = reward(order["id"], Coupon.FRIEND_REWARD)
    assert (spent.state, spent.redeemed_value) == ("used", Decimal("12.00"))

    # Store credit works at checkout like a promo code (checkoutAddPromoCode, the storefront's own call)
    # and keeps what is left across orders; the app learns what was spent from Saleor's order.
    def checkout_with_credit(subtotal: str) -> dict:
        checkout = shop.create_checkout(channel="channel-pln", email="alice@example.com", subtotal=subtotal)
        added = shop.execute(ADD_PROMO, {"id": checkout["id"], "code": credit.code})["data"]["checkoutAddPromoCode"]
        assert added["errors"] == []
        return shop.complete_checkout(checkout, first_name="Alice")

    first = checkout_with_credit("30.00")
    assert first["total"]["gross"]["amount"] == 0.0
    assert shop.gift_cards()[credit.code]["current_balance"] == Decimal("50.00")
    partly = reward(order["id"], Coupon.REFERRER_REWARD)
    assert (partly.state, partly.redeemed_value) == ("issued", Decimal("30.00"))
    second = checkout_with_credit("70.00")
    assert second["total"]["gross"]["amount"] == 20.0
    spent_card = reward(order["id"], Coupon.REFERRER_REWARD)
    assert (spent_card.state, spent_card.redeemed_value) == ("used", Decimal("80.00"))
