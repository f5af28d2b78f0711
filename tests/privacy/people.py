"""A small shop history around one person, Fiona, who then asks to be forgotten."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select, text

from plugin.analytics.queries import Period, program_report
from plugin.coupons.models import Coupon
from plugin.db import engine, session_scope, utcnow
from plugin.program.settings import load_program
from plugin.referrals.claims import claim_offer, issue_now
from plugin.referrals.models import Advocate, FriendClaim, OrderRecord, Referral
from tests.flows import advocate_row, coupons_for, friend_order, new_advocate, own_address, tenant_id

FIONA = "Fiona.Friend+promo@gmail.com"
FIONA_NORMALISED = "fionafriend@gmail.com"


@dataclass
class History:
    alice_code: str
    fiona_code: str
    fiona_order: dict
    gina_order: dict
    hank_order: dict
    codes: dict[str, str] = field(default_factory=dict)  # label -> code


def build_history(saleor) -> History:
    """Alice refers Fiona (claim + friend voucher); Fiona refers Gina (rewarded) and Hank (held)."""
    alice_code = new_advocate(saleor, "alice@example.com", "Alice")
    tid = tenant_id()
    with session_scope(tid) as session:
        outcome = claim_offer(
            session,
            load_program(session, tid),
            advocate_row("alice@example.com").id,
            email=FIONA,
            landing_referrer="https://blog.example.org/post",
            clicked_at=utcnow() - timedelta(minutes=10),
        )
    assert issue_now(tid, outcome.coupon_id)
    fiona_order = saleor.create_order(
        FIONA,
        first_name="Fiona",
        total="45.00",
        voucher_code=outcome.code,
        paid=True,
        shipping_address=own_address("Fiona"),
    )
    saleor.checkout_complete(fiona_order)
    # A later order typed differently: the same mailbox.
    later = saleor.create_order(
        "fionafriend@gmail.com", first_name="Fiona", total="12.50", paid=True, shipping_address=own_address("Fiona")
    )
    saleor.checkout_complete(later)
    fiona_code = advocate_row(FIONA).code
    gina_order = friend_order(saleor, "gina@example.com", code=fiona_code, total="30.00")
    hank_order = friend_order(saleor, "hank@mailinator.com", code=fiona_code, total="35.00")
    history = History(alice_code, fiona_code, fiona_order, gina_order, hank_order)
    history.codes["fiona_offer"] = outcome.code
    for label, order in (("fiona", fiona_order), ("gina", gina_order)):
        for coupon in coupons_for(order["id"]):
            history.codes[f"{label}:{coupon.purpose}"] = coupon.code
    assert len(history.codes) == 5
    assert {r.state for r in (_referral(fiona_order), _referral(gina_order))} == {"issued"}
    assert _referral(hank_order).state == "held"
    return history


def _referral(order) -> Referral:
    with session_scope() as session:
        return session.scalar(select(Referral).where(Referral.saleor_order_id == order["id"]))


def cells_mentioning(*needles: str) -> list[tuple[str, str, str]]:
    """(table, column, value) of every cell in the database whose text contains a needle, any case."""
    found = []
    with engine().connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
            )
        ).all()
        for table, column in columns:
            for needle in needles:
                rows = (
                    conn.execute(
                        text(f'SELECT CAST("{column}" AS TEXT) FROM "{table}" WHERE CAST("{column}" AS TEXT) ILIKE :p'),
                        {"p": f"%{needle}%"},
                    )
                    .scalars()
                    .all()
                )
                found.extend((table, column, value[:200]) for value in rows)
    return found


def totals() -> dict:
    """What analytics counts and sums: must not move when a person is erased."""
    tid = tenant_id()
    with session_scope(tid) as session:
        raw = {
            "referrals": session.scalar(select(func.count(Referral.id))),
            "referral_revenue": session.scalar(select(func.sum(Referral.order_total))),
            "distinct_friends": session.scalar(select(func.count(func.distinct(Referral.friend_email)))),
            "referrals_by_state": dict(
                session.execute(select(Referral.state, func.count()).group_by(Referral.state)).all()
            ),
            "orders": session.scalar(select(func.count(OrderRecord.id))),
            "order_revenue": session.scalar(select(func.sum(OrderRecord.total))),
            "distinct_buyers": session.scalar(select(func.count(func.distinct(OrderRecord.email)))),
            "advocates": session.scalar(select(func.count(Advocate.id))),
            "claims": session.scalar(select(func.count(FriendClaim.id))),
            "coupons": session.scalar(select(func.count(Coupon.id))),
            "coupon_face_value": session.scalar(select(func.sum(Coupon.value))),
            "shortfall": session.scalar(select(func.sum(Referral.shortfall))),
        }
        today = date.today()
        report = program_report(session, tid, Period(today - timedelta(days=1), today + timedelta(days=1)))
    (money,) = report["totals_by_currency"]
    return {"raw": raw, "report": money, "funnel": [g["funnel"] for g in report["groups"]]}
