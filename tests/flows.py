"""Helpers that drive the real flow: an advocate's paid order, then a friend's referred order."""
from __future__ import annotations

from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.referrals.models import Advocate, OrderRecord, Referral


def advocate_code(email: str) -> str | None:
    from plugin.identity import normalize_email

    with session_scope() as session:
        return session.scalar(select(Advocate.code).where(Advocate.email == normalize_email(email)))


def make_advocate(saleor, email="alice@example.com", first_name="Alice", **order_kwargs) -> str:
    order = saleor.create_order(email, first_name=first_name, paid=True, **order_kwargs)
    saleor.checkout_complete(order)
    code = advocate_code(email)
    assert code, f"{email} did not become an advocate"
    return code


def referred_order(saleor, code, email="bob@example.com", *, total="40.00", paid=True, deliver=True, **kwargs):
    order = saleor.create_order(email, first_name="Bob", total=total, metadata={"referral_code": code},
                                paid=paid, **kwargs)
    if deliver:
        saleor.checkout_complete(order)
    return order


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


def mails_with(messages, text: str) -> list:
    found = []
    for message in messages:
        body = message.get_body(preferencelist=("plain",)).get_content()
        if text in body:
            found.append(message)
    return found
