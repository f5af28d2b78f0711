"""Helpers for trust tests: an installed shop, program settings, people with their own addresses."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.program.models import ProgramSettings
from plugin.referrals.models import Advocate, LedgerEntry, OrderRecord, Referral
from tests.flows import advocate_code, coupons_for, order_record, referral_for

_street = itertools.count(1)


def own_address(first_name: str = "Pat") -> dict:
    """A shipping address nobody else in the test uses (the emulator's default is shared)."""
    n = next(_street)
    return {"firstName": first_name, "lastName": "Tester", "streetAddress1": f"{n} Test Street",
            "city": "Springfield", "postalCode": f"{10000 + n}", "country": "US"}


def install(saleor, make_live_server, **server_overrides):
    server = make_live_server(**server_overrides)
    result = saleor.install(f"{server.url}/api/manifest")
    assert result.response.status_code == 200, result.response.text
    return server


def set_program(**overrides) -> None:
    """Store the single tenant's program overrides (merged over the defaults when loaded)."""
    with session_scope() as session:
        from plugin.tenants.models import Tenant

        tenant_id = session.scalar(select(Tenant.id))
        row = session.scalar(select(ProgramSettings).where(ProgramSettings.tenant_id == tenant_id))
        if row is None:
            row = ProgramSettings(tenant_id=tenant_id, data={})
            session.add(row)
        row.data = {**(row.data or {}), **overrides}


def tenant_id() -> int:
    from plugin.tenants.models import Tenant

    with session_scope() as session:
        return session.scalar(select(Tenant.id))


def new_advocate(saleor, email="alice@example.com", first_name="Alice", *, address=None, **order_kwargs) -> str:
    order = saleor.create_order(email, first_name=first_name, paid=True, total="50.00",
                                shipping_address=address or own_address(first_name), **order_kwargs)
    saleor.checkout_complete(order)
    code = advocate_code(email)
    assert code, f"{email} did not become an advocate"
    return code


def friend_order(saleor, email, *, code=None, voucher_code=None, total="40.00", address=None, deliver=True, **kwargs):
    """A friend's paid checkout order carrying the advocate's code (metadata) and/or a friend voucher."""
    metadata = {"referral_code": code} if code else {}
    order = saleor.create_order(email, first_name="Fred", total=total, metadata=metadata, voucher_code=voucher_code,
                                paid=True, shipping_address=address or own_address("Fred"), **kwargs)
    if deliver:
        saleor.checkout_complete(order)
    return order


# The same look-ups the other flow tests use, under the names these tests read best with.
referral_of = referral_for
record_of = order_record
coupons_of = coupons_for


def ledger_of(order_id: str) -> list[tuple[str | None, str, str, str]]:
    """(from, to, reason, actor) of the referral's own transitions, oldest first."""
    with session_scope() as session:
        referral_id = session.scalar(select(Referral.id).where(Referral.saleor_order_id == order_id))
        rows = session.scalars(select(LedgerEntry).where(
            LedgerEntry.referral_id == referral_id, LedgerEntry.coupon_id.is_(None)).order_by(LedgerEntry.id))
        return [(e.from_state, e.to_state, e.reason, e.actor) for e in rows]


def coupon_ledger(coupon_id: int) -> list[tuple[str | None, str, str, str]]:
    with session_scope() as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.coupon_id == coupon_id).order_by(LedgerEntry.id))
        return [(e.from_state, e.to_state, e.reason, e.actor) for e in rows]


def live_codes(saleor, codes) -> set[str]:
    """Which of `codes` a customer could still redeem in (emulated) Saleor."""
    known = saleor.voucher_codes()
    return {c for c in codes if c in known and known[c]["is_active"]}


def advocate_row(email: str) -> Advocate | None:
    from plugin.identity import normalize_email

    with session_scope() as session:
        return session.scalar(select(Advocate).where(Advocate.email == normalize_email(email)))


@pytest.fixture
def shop(saleor, make_live_server, smtp):
    """The app (eager tasks, real SMTP sink) installed into the emulated Saleor; the test runs
    inside the app's context so it can call services directly too."""
    server = install(saleor, make_live_server, smtp_url=smtp.url)
    with server.app.app_context():
        yield saleor
