"""Helpers that drive the real flow through the emulated Saleor, and read what it left behind.

An advocate's paid order (`make_advocate`), then a friend's referred order (`referred_order`);
`new_advocate` and `friend_order` do the same for people with a shipping address of their own,
so that the household rule (same address) stays quiet unless a test wants it.
"""

from __future__ import annotations

import contextlib
import itertools

from sqlalchemy import select

from plugin import tasks
from plugin.coupons.models import Coupon
from plugin.coupons.tasks import issue_rewards
from plugin.db import session_scope
from plugin.identity import normalize_email
from plugin.program.models import ProgramSettings
from plugin.referrals.models import Advocate, LedgerEntry, OrderRecord, Referral
from plugin.tenants.models import Tenant
from tests.conftest import wait_until

_street = itertools.count(1)


# -- orders in Saleor -------------------------------------------------------------------------------


def make_advocate(saleor, email="alice@example.com", first_name="Alice", **order_kwargs) -> str:
    order = saleor.create_order(email, first_name=first_name, paid=True, **order_kwargs)
    saleor.checkout_complete(order)
    code = advocate_code(email)
    assert code, f"{email} did not become an advocate"
    return code


def referred_order(saleor, code, email="bob@example.com", *, total="40.00", paid=True, deliver=True, **kwargs):
    order = saleor.create_order(
        email, first_name="Bob", total=total, metadata={"referral_code": code}, paid=paid, **kwargs
    )
    if deliver:
        saleor.checkout_complete(order)
    return order


def own_address(first_name: str = "Pat") -> dict:
    """A shipping address nobody else in the test uses (the emulator's default is shared)."""
    n = next(_street)
    return {
        "firstName": first_name,
        "lastName": "Tester",
        "streetAddress1": f"{n} Test Street",
        "city": "Springfield",
        "postalCode": f"{10000 + n}",
        "country": "US",
    }


def paid_advocate(shop, email: str = "alice@example.com", first_name: str = "Alice", **order_fields):
    """Create and pay an order (its events delivered as Saleor sends them); returns (order, advocate)
    once the app made the buyer an advocate."""
    order = shop.saleor.create_order(email, first_name=first_name, **order_fields)
    shop.saleor.pay(order)
    advocate = wait_until(lambda: advocate_row(email))
    assert advocate is not None, "the paid order did not make its buyer an advocate"
    return order, advocate


def new_advocate(saleor, email="alice@example.com", first_name="Alice", *, address=None, **order_kwargs) -> str:
    """`make_advocate` at an address of their own."""
    return make_advocate(
        saleor, email, first_name, total="50.00", shipping_address=address or own_address(first_name), **order_kwargs
    )


def friend_order(saleor, email, *, code=None, voucher_code=None, total="40.00", address=None, deliver=True, **kwargs):
    """A friend's paid checkout order, at an address of their own, carrying the advocate's code (metadata)
    and/or a friend voucher."""
    metadata = {"referral_code": code} if code else {}
    order = saleor.create_order(
        email,
        first_name="Fred",
        total=total,
        metadata=metadata,
        voucher_code=voucher_code,
        paid=True,
        shipping_address=address or own_address("Fred"),
        **kwargs,
    )
    if deliver:
        saleor.checkout_complete(order)
    return order


@contextlib.contextmanager
def rewards_left_reserved(monkeypatch):
    """Inside the block, an approval reserves its rewards but does not issue them: the test issues
    them itself (by hand, racing a refund, ...)."""
    real_enqueue = tasks.enqueue
    monkeypatch.setattr(
        tasks,
        "enqueue",
        lambda handle, *args, **kw: None if handle is issue_rewards else real_enqueue(handle, *args, **kw),
    )
    try:
        yield
    finally:
        monkeypatch.setattr(tasks, "enqueue", real_enqueue)


# -- the shop's program ----------------------------------------------------------------------------


def tenant_id() -> int:
    """The id of the one shop installed in the test."""
    with session_scope() as session:
        return session.scalar(select(Tenant.id))


def set_shop_name(name: str) -> None:
    """The one shop's name, as if Saleor had told us."""
    with session_scope() as session:
        session.get(Tenant, session.scalar(select(Tenant.id))).shop_name = name


def set_program(**overrides) -> None:
    """Store the single shop's program overrides (merged over the defaults when loaded)."""
    with session_scope() as session:
        shop_id = session.scalar(select(Tenant.id))
        row = session.scalar(select(ProgramSettings).where(ProgramSettings.tenant_id == shop_id))
        if row is None:
            row = ProgramSettings(tenant_id=shop_id, data={})
            session.add(row)
        row.data = {**(row.data or {}), **overrides}


# -- what the app stored ---------------------------------------------------------------------------


def advocate_code(email: str) -> str | None:
    with session_scope() as session:
        return session.scalar(select(Advocate.code).where(Advocate.email == normalize_email(email)))


def advocate_row(email: str) -> Advocate | None:
    with session_scope() as session:
        return session.scalar(select(Advocate).where(Advocate.email == normalize_email(email)))


def coupons_for(order_id: str) -> list[Coupon]:
    with session_scope() as session:
        referral = session.scalar(select(Referral).where(Referral.saleor_order_id == order_id))
        if referral is None:
            return []
        return list(session.scalars(select(Coupon).where(Coupon.referral_id == referral.id).order_by(Coupon.purpose)))


def referral_for(order_id: str) -> Referral | None:
    with session_scope() as session:
        return session.scalar(select(Referral).where(Referral.saleor_order_id == order_id))


def order_record(order_id: str) -> OrderRecord | None:
    with session_scope() as session:
        return session.scalar(select(OrderRecord).where(OrderRecord.saleor_order_id == order_id))


def ledger_of(order_id: str) -> list[tuple[str | None, str, str, str]]:
    """(from, to, reason, actor) of the referral's own transitions, oldest first."""
    with session_scope() as session:
        referral_id = session.scalar(select(Referral.id).where(Referral.saleor_order_id == order_id))
        rows = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.referral_id == referral_id, LedgerEntry.coupon_id.is_(None))
            .order_by(LedgerEntry.id)
        )
        return [(e.from_state, e.to_state, e.reason, e.actor) for e in rows]


def coupon_ledger(coupon_id: int) -> list[tuple[str | None, str, str, str]]:
    with session_scope() as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.coupon_id == coupon_id).order_by(LedgerEntry.id))
        return [(e.from_state, e.to_state, e.reason, e.actor) for e in rows]


def live_codes(saleor, codes) -> set[str]:
    """Which of `codes` a customer could still redeem in (emulated) Saleor."""
    known = saleor.voucher_codes()
    return {c for c in codes if c in known and known[c]["is_active"]}


def mails_with(messages, text: str) -> list:
    found = []
    for message in messages:
        body = message.get_body(preferencelist=("plain",)).get_content()
        if text in body:
            found.append(message)
    return found
