"""Refund and payment deliveries for the same order, racing for real.

The app runs its in-process thread pool (4 workers) on PostgreSQL, with the sweeper on, and
the emulator fires the paid deliveries (ORDER_CREATED/PAID/FULLY_PAID/UPDATED, rendered while
the order was paid) and the refund deliveries (ORDER_REFUNDED/UPDATED/FULLY_REFUNDED) from
parallel threads, in both orders, round after round. Whatever interleaving happens, the
referral must end revoked with no reward code alive in Saleor — never issued-and-forgotten.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.referrals.models import Referral
from tests.conftest import wait_until
from tests.flows import advocate_code, own_address

ROUNDS = 20
OFFSETS = (0, 0.05, 0.15, 0.3, 0.6)  # seconds between the two groups of deliveries


@pytest.fixture
def racing_shop(install_shop, postgres):
    shop = install_shop(runner=None, sweep_interval=0.5, sweep_grace=1)
    with shop.flask_app.app_context():
        yield shop.saleor


def _fire_together(first, second, offset: float):
    """All deliveries start together; the `second` group `offset` seconds later (0 = same instant),
    so across rounds the refund lands before, during and after the reward is being issued."""
    deliveries = first + second
    barrier = threading.Barrier(len(deliveries))

    def send(delivery, delay):
        barrier.wait()
        if delay:
            time.sleep(delay)
        delivery.send(retry=True)

    later = {id(d) for d in second}
    threads = [threading.Thread(target=send, args=(d, offset if id(d) in later else 0)) for d in deliveries]
    for thread in threads:  # started in this order; the barrier releases them together
        thread.start()
    for thread in threads:
        thread.join()
    assert all(d.status_code == 200 for d in deliveries), [(d.event, d.status_code) for d in deliveries]


def _settled(order_id: str):
    """(referral state, coupon states) once no coupon is still reserved, else None."""
    with session_scope() as session:
        referral = session.scalar(select(Referral).where(Referral.saleor_order_id == order_id))
        if referral is None:
            return None
        states = session.scalars(select(Coupon.state).where(Coupon.referral_id == referral.id)).all()
        codes = session.scalars(select(Coupon.code).where(Coupon.referral_id == referral.id)).all()
    if Coupon.RESERVED in states or (referral.state == Referral.REVOKED and Coupon.ISSUED in states):
        return None
    return referral.state, sorted(states), codes


def test_refund_racing_payment_always_ends_revoked(racing_shop):
    saleor = racing_shop
    saleor.faults.latency = 0.03  # every Saleor call takes a little while, as over a network
    advocate_order = saleor.create_order(
        "alice@example.com", first_name="Alice", paid=True, total="50.00", shipping_address=own_address("Alice")
    )
    saleor.checkout_complete(advocate_order)
    code = wait_until(lambda: advocate_code("alice@example.com"), timeout=20)
    assert code

    outcomes = []
    for round_no in range(ROUNDS):
        order = saleor.create_order(
            f"friend{round_no}@example.com",
            first_name="Fred",
            total="40.00",
            metadata={"referral_code": code},
            paid=True,
            shipping_address=own_address("Fred"),
        )
        paid = saleor.checkout_complete(order, deliver=False)
        for delivery in paid:
            delivery.body  # noqa: B018 - rendered now: paid, not yet refunded
        refund = saleor.refund(order, deliver=False)
        for delivery in refund:
            delivery.body  # noqa: B018
        offset = OFFSETS[(round_no // 2) % len(OFFSETS)]
        if round_no % 2:
            _fire_together(refund, paid, offset)
        else:
            _fire_together(paid, refund, offset)

        settled = wait_until(lambda order=order: _settled(order["id"]), timeout=30)
        assert settled, f"round {round_no}: referral did not settle"
        time.sleep(0.3)  # anything still in flight would change the state now
        settled = wait_until(lambda order=order: _settled(order["id"]), timeout=30)
        state, coupon_states, codes = settled
        live = {c for c in codes if saleor.voucher_codes().get(c, {}).get("is_active")}
        outcomes.append((round_no, state, coupon_states, live))

    wrong = [o for o in outcomes if o[1] != Referral.REVOKED or o[3]]
    assert not wrong, wrong
    everything_live = {
        c for c, info in saleor.voucher_codes().items() if info["is_active"] and c.startswith(("THANKS-", "WELCOME-"))
    }
    assert everything_live == set()
