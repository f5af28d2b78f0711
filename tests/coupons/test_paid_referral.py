"""A paid referred order issues one coupon to the referrer and one to the friend, by e-mail."""

from __future__ import annotations

from decimal import Decimal

import pytest

from plugin.coupons.models import Coupon
from tests.flows import coupons_for, mails_with, make_advocate, order_record, referral_for, referred_order


def test_referred_paid_order_issues_two_coupons_and_two_emails(shop, saleor, smtp):
    code = make_advocate(saleor)
    codes_before = set(saleor.voucher_codes())
    order = referred_order(saleor, code, total="40.00")

    coupons = coupons_for(order["id"])
    assert [c.purpose for c in coupons] == [Coupon.FRIEND_REWARD, Coupon.REFERRER_REWARD]
    assert all(c.state == Coupon.ISSUED for c in coupons)
    new_codes = set(saleor.voucher_codes()) - codes_before
    assert new_codes == {c.code for c in coupons}

    vouchers = {
        c.code: saleor.execute(
            "query($id: ID!) { voucher(id: $id) { singleUse applyOncePerCustomer discountValueType "
            "channelListings { channel { slug } discountValue currency } codes(first: 5) { edges { node { code isActive } } } } }",
            {"id": saleor.voucher_codes()[c.code]["voucher_id"]},
            token=saleor.app_by_identifier("saleor.app.referrals").token,
        )["data"]["voucher"]
        for c in coupons
    }
    referrer = next(c for c in coupons if c.purpose == Coupon.REFERRER_REWARD)
    friend = next(c for c in coupons if c.purpose == Coupon.FRIEND_REWARD)
    assert vouchers[referrer.code]["discountValueType"] == "FIXED"
    assert vouchers[referrer.code]["channelListings"] == [
        {"channel": {"slug": "default-channel"}, "discountValue": 10.0, "currency": "USD"}
    ]
    assert vouchers[friend.code]["discountValueType"] == "PERCENTAGE"
    assert vouchers[friend.code]["channelListings"][0]["discountValue"] == 10.0
    for voucher in vouchers.values():
        assert voucher["singleUse"] is True and voucher["applyOncePerCustomer"] is True
        assert len(voucher["codes"]["edges"]) == 1

    messages = smtp.wait_for(4)
    with_codes = [
        m for m in messages if any(c.code in m.get_body(preferencelist=("plain",)).get_content() for c in coupons)
    ]
    assert len(with_codes) == 2
    to_referrer = mails_with(messages, referrer.code)
    to_friend = mails_with(messages, friend.code)
    assert [m["To"] for m in to_referrer] == ["alice@example.com"]
    assert [m["To"] for m in to_friend] == ["bob@example.com"]
    assert f"/r/{code}" in to_referrer[0].get_body(preferencelist=("plain",)).get_content()
    assert to_referrer[0]["Subject"].startswith("You earned $10 at ")
    html = to_friend[0].get_body(preferencelist=("html",)).get_content()
    assert friend.code in html

    referral = referral_for(order["id"])
    assert referral.state == "issued" and referral.source == "metadata"
    assert referral.order_total == Decimal("40.00")
    record = order_record(order["id"])
    assert record.attributed is True and code in record.attribution_note


def test_friend_voucher_code_attributes_the_order(shop, saleor, smtp):
    """A friend code minted at claim time (purpose friend_offer) attributes without metadata."""
    from sqlalchemy import select

    from plugin.coupons.models import Coupon as CouponModel
    from plugin.coupons.service import reserve_coupon
    from plugin.db import session_scope
    from plugin.program.settings import RewardSpec
    from plugin.referrals.models import Advocate, FriendClaim

    code = make_advocate(saleor)
    with session_scope() as session:
        advocate = session.scalar(select(Advocate).where(Advocate.code == code))
        coupon = reserve_coupon(
            session,
            tenant_id=advocate.tenant_id,
            purpose=CouponModel.FRIEND_OFFER,
            spec=RewardSpec("PERCENTAGE", Decimal(10)),
            recipient_email="carol@example.com",
            channel_slug="default-channel",
            saleor_channel_id="Q2hhbm5lbDox",
            currency="USD",
            expiry_days=14,
            advocate_id=advocate.id,
        )
        session.add(
            FriendClaim(
                tenant_id=advocate.tenant_id,
                advocate_id=advocate.id,
                email="carol@example.com",
                contact_email="carol@example.com",
                coupon_id=coupon.id,
            )
        )
        friend_code = coupon.code
    order = saleor.create_order(
        "carol@example.com", first_name="Carol", total="30.00", voucher_code=friend_code, paid=True
    )
    saleor.checkout_complete(order)
    referral = referral_for(order["id"])
    assert referral is not None and referral.source == "voucher"
    assert "friend voucher" in order_record(order["id"]).attribution_note


@pytest.mark.parametrize(
    "scenario, expected_note, attributed, referral_state",
    [
        ("unpaid", None, None, None),
        ("not_referred", "carries no referral code", False, None),
        ("self_referred", "self", True, "rejected"),  # attributed, then the self-referral rule rejects it
        ("unknown_code", "is not a referral code", False, None),
    ],
)
def test_orders_without_reward_record_why(shop, saleor, smtp, scenario, expected_note, attributed, referral_state):
    code = make_advocate(saleor)
    if scenario == "unpaid":
        order = referred_order(saleor, code, paid=False)
    elif scenario == "not_referred":
        order = saleor.create_order("dave@example.com", paid=True)
        saleor.checkout_complete(order)
    elif scenario == "self_referred":
        order = referred_order(saleor, code, email="Alice@Example.com")
    else:
        order = referred_order(saleor, "NOPE2345")
    assert coupons_for(order["id"]) == []
    record = order_record(order["id"])
    if expected_note is None:
        assert record.attributed is None and record.reached_trigger_at is None
    else:
        assert expected_note in record.attribution_note.lower()
    referral = referral_for(order["id"])
    assert record.attributed is attributed
    assert (referral.state if referral else None) == referral_state


def test_only_the_friends_first_paid_order_counts(shop, saleor, smtp):
    code = make_advocate(saleor)
    first = referred_order(saleor, code, email="erin@example.com")
    second = referred_order(saleor, code, email="erin@example.com")
    assert len(coupons_for(first["id"])) == 2
    assert coupons_for(second["id"]) == []
    assert order_record(second["id"]).attribution_note == (
        "Not referred: this friend was already referred with an earlier order."
    )


def test_mark_as_paid_without_order_paid_still_rewards(shop, saleor, smtp):
    """orderMarkAsPaid sends ORDER_FULLY_PAID without ORDER_PAID (captured scenario B)."""
    code = make_advocate(saleor)
    order = referred_order(saleor, code, paid=False)
    saleor.mark_as_paid(order)
    assert [c.state for c in coupons_for(order["id"])] == [Coupon.ISSUED, Coupon.ISSUED]


@pytest.mark.parametrize(
    "event_order",
    [
        ["ORDER_FULLY_PAID", "ORDER_PAID", "ORDER_UPDATED", "ORDER_CREATED"],
        ["ORDER_PAID", "ORDER_CREATED", "ORDER_FULLY_PAID", "ORDER_UPDATED"],
    ],
)
def test_arrival_order_does_not_matter(shop, saleor, smtp, event_order):
    code = make_advocate(saleor)
    order = referred_order(saleor, code, deliver=False)
    saleor.emit(event_order, order)
    assert len(coupons_for(order["id"])) == 2
