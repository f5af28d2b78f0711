"""Refunds and cancellations take rewards back automatically, on both sides, with a reason.

Driven through the emulator: it sends the deliveries real Saleor 3.23 sends (full refund:
ORDER_REFUNDED, ORDER_UPDATED, ORDER_FULLY_REFUNDED; cancel: ORDER_CANCELLED, ORDER_UPDATED;
payloads shaped like tests/fixtures/saleor C and E).
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from plugin.coupons.models import Coupon
from tests.flows import (
    coupon_ledger,
    coupons_for,
    friend_order,
    ledger_of,
    live_codes,
    new_advocate,
    own_address,
    referral_for,
    set_program,
)


def _rewarded(saleor, email="bob@example.com", total="40.00"):
    code = new_advocate(saleor)
    order = friend_order(saleor, email, code=code, total=total)
    coupons = coupons_for(order["id"])
    codes = {c.code for c in coupons}
    assert referral_for(order["id"]).state == "issued"
    assert len(codes) == 2 and live_codes(saleor, codes) == codes
    return order, coupons, codes


def _deleted_in_saleor(saleor) -> list[list[str]]:
    return [r.variables["ids"] for r in saleor.requests if r.query and "voucherCodeBulkDelete" in r.query]


def test_full_refund_takes_both_unused_codes_back(shop, saleor):
    order, coupons, codes = _rewarded(saleor)
    deliveries = saleor.refund(order)
    assert [d.event for d in deliveries] == ["ORDER_REFUNDED", "ORDER_UPDATED", "ORDER_FULLY_REFUNDED"]
    assert all(d.status_code == 200 for d in deliveries)

    assert not codes & set(saleor.voucher_codes())  # deleted in Saleor, not just marked
    assert len(_deleted_in_saleor(saleor)) == 2
    referral = referral_for(order["id"])
    assert referral.state == "revoked" and referral.shortfall == 0
    assert ledger_of(order["id"])[-1] == ("issued", "revoked", "The friend's order was fully refunded.", "system")
    for coupon in coupons_for(order["id"]):
        assert coupon.state == Coupon.REVOKED and coupon.revoked_at is not None
        assert coupon_ledger(coupon.id)[-1][1:3] == (
            "revoked",
            "Referral revoked: The friend's order was fully refunded.",
        )


def test_each_refund_event_alone_is_enough(shop, saleor):
    """Deliveries can get lost: ORDER_FULLY_REFUNDED alone, or ORDER_REFUNDED alone, revokes."""
    for event in ("ORDER_FULLY_REFUNDED", "ORDER_REFUNDED"):
        order, _coupons, codes = _rewarded(saleor, email=f"{event.lower()}@example.com")
        saleor.refund(order, event_order=[event])
        assert referral_for(order["id"]).state == "revoked"
        assert live_codes(saleor, codes) == set()


def test_cancellation_takes_both_codes_back(shop, saleor):
    order, _coupons, codes = _rewarded(saleor)
    deliveries = saleor.cancel(order)
    assert [d.event for d in deliveries] == ["ORDER_CANCELLED", "ORDER_UPDATED"]
    assert deliveries[0].payload["order"]["isPaid"] is True  # cancelling does not refund (scenario E)
    assert not codes & set(saleor.voucher_codes())
    assert referral_for(order["id"]).state == "revoked"
    assert ledger_of(order["id"])[-1] == ("issued", "revoked", "The friend's order was cancelled.", "system")


def test_partial_refund_below_the_minimum_revokes(shop, saleor):
    set_program(default_rewards={"min_order": "30"})
    order, _coupons, codes = _rewarded(saleor, total="40.00")
    deliveries = saleor.refund(order, "15.00")
    assert [d.event for d in deliveries] == ["ORDER_REFUNDED", "ORDER_UPDATED"]
    assert referral_for(order["id"]).state == "revoked"
    assert live_codes(saleor, codes) == set()
    reason = ledger_of(order["id"])[-1][2]
    assert reason == "Partial refund: the order's net paid $25 fell below the minimum order value $30."


def test_partial_refund_above_the_minimum_keeps_the_rewards(shop, saleor):
    set_program(default_rewards={"min_order": "30"})
    order, _coupons, codes = _rewarded(saleor, total="40.00")
    saleor.refund(order, "5.00")
    assert referral_for(order["id"]).state == "issued"
    assert live_codes(saleor, codes) == codes
    assert _deleted_in_saleor(saleor) == []
    # ...until a second partial refund pushes the net paid below the minimum.
    saleor.refund(order, "6.00")
    assert referral_for(order["id"]).state == "revoked"
    assert live_codes(saleor, codes) == set()


def test_a_used_reward_cannot_be_recalled_and_becomes_a_shortfall(shop, saleor):
    order, coupons, codes = _rewarded(saleor)
    thanks = next(c for c in coupons if c.purpose == Coupon.REFERRER_REWARD)
    # The advocate spends the 10 USD reward on a new order before the friend's refund.
    spend = saleor.create_order(
        "alice@example.com",
        first_name="Alice",
        total="60.00",
        voucher_code=thanks.code,
        paid=True,
        shipping_address=own_address("Alice"),
    )
    saleor.checkout_complete(spend)
    saleor.refund(order)

    referral = referral_for(order["id"])
    assert referral.state == "revoked"
    assert referral.shortfall == Decimal("10")  # what we could not take back, never a negative balance
    states = {c.purpose: c.state for c in coupons_for(order["id"])}
    assert states == {Coupon.REFERRER_REWARD: Coupon.USED, Coupon.FRIEND_REWARD: Coupon.REVOKED}
    friend_code = next(c.code for c in coupons if c.purpose == Coupon.FRIEND_REWARD)
    assert friend_code not in saleor.voucher_codes()
    assert thanks.code in saleor.voucher_codes()  # the spent code is Saleor's history; we leave it


def test_refund_arriving_before_the_payment_still_ends_revoked(shop, saleor):
    code = new_advocate(saleor)
    order = friend_order(saleor, "bob@example.com", code=code, deliver=False)
    paid = saleor.checkout_complete(order, deliver=False)
    for delivery in paid:
        delivery.body  # noqa: B018 - render now: the order is paid and not refunded yet
    refund = saleor.refund(order, deliver=False)
    for delivery in refund + paid:  # the refund overtakes the payment
        delivery.send()
    assert all(d.status_code == 200 for d in refund + paid)
    referral = referral_for(order["id"])
    assert referral.state == "revoked"
    assert [s[1] for s in ledger_of(order["id"])][-1] == "revoked"
    assert all(c.state in (Coupon.CANCELLED, Coupon.REVOKED) for c in coupons_for(order["id"]))
    assert live_codes(saleor, {c.code for c in coupons_for(order["id"])}) == set()


def test_redelivered_and_shuffled_events_change_nothing_more(shop, saleor):
    order, _coupons, codes = _rewarded(saleor)
    refund = saleor.refund(order)
    before = ledger_of(order["id"])
    for delivery in random.Random(7).sample(refund, len(refund)):
        assert delivery.resend().response.json()["duplicate"] is True
    saleor.emit(["ORDER_UPDATED", "ORDER_FULLY_REFUNDED"], order)  # fresh bytes, same state
    assert ledger_of(order["id"]) == before
    assert referral_for(order["id"]).state == "revoked" and live_codes(saleor, codes) == set()


@pytest.mark.parametrize("refund_first", [True, False])
def test_held_referral_is_revoked_by_a_refund_and_never_issued(shop, saleor, refund_first):
    set_program(hold_days=14)
    code = new_advocate(saleor)
    order = friend_order(saleor, "bob@example.com", code=code)
    assert referral_for(order["id"]).state == "held" and coupons_for(order["id"]) == []
    (saleor.refund if refund_first else saleor.cancel)(order)
    assert referral_for(order["id"]).state == "revoked"
    assert coupons_for(order["id"]) == []
