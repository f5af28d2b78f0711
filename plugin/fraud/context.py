"""Gathering what the fraud rules look at: the only part of fraud checking that does I/O."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.fraud.lists import coupon_site_domains, disposable_domains
from plugin.fraud.rules import ReferralContext
from plugin.referrals.models import Advocate, FriendClaim, OrderRecord, Referral

if TYPE_CHECKING:  # the program's settings decide which rules run; fraud itself sits below the program
    from plugin.program.settings import Program

DEFAULT_MIN_SECONDS_CLICK_TO_ORDER = 20


def claims_in_day(session: Session, advocate_id: int, until: datetime | None = None) -> int:
    """Claims of one advocate's code in the 24 hours up to `until` (default now), inclusive."""
    until = until or utcnow()
    return (
        session.scalar(
            select(func.count(FriendClaim.id)).where(
                FriendClaim.advocate_id == advocate_id,
                FriendClaim.created_at > until - timedelta(days=1),
                FriendClaim.created_at <= until,
            )
        )
        or 0
    )


def rewards_in_30_days(session: Session, advocate_id: int) -> int:
    """Referrals of the advocate that pay (or will pay once their return window ends)."""
    return (
        session.scalar(
            select(func.count(Referral.id)).where(
                Referral.advocate_id == advocate_id,
                or_(
                    Referral.state.in_([Referral.APPROVED, Referral.ISSUED]),
                    and_(Referral.state == Referral.HELD, Referral.hold_until.is_not(None)),
                ),
                Referral.created_at >= utcnow() - timedelta(days=30),
            )
        )
        or 0
    )


def earlier_paid_order_known(session: Session, record: OrderRecord) -> str | None:
    """Number of an earlier paid order of the same buyer that we saw ourselves, if any."""
    return session.scalar(
        select(OrderRecord.number)
        .where(
            OrderRecord.email == record.email,
            OrderRecord.id != record.id,
            OrderRecord.reached_trigger_at.is_not(None),
            OrderRecord.reached_trigger_at <= record.reached_trigger_at,
            OrderRecord.created_at < record.created_at,
        )
        .limit(1)
    )


def referrer_host(value: str | None) -> str | None:
    """The host of a Referer, whether a full URL or already a bare host was stored."""
    if not value:
        return None
    value = value.strip()
    host = urlsplit(value).hostname if "://" in value else value.split("/", 1)[0].split(":", 1)[0]
    return (host or "").lower() or None


def _advocate_fingerprint(session: Session, advocate: Advocate) -> str | None:
    if not advocate.first_order_id:
        return None
    return session.scalar(
        select(OrderRecord.shipping_fingerprint).where(OrderRecord.saleor_order_id == advocate.first_order_id)
    )


def build_context(
    session: Session,
    program: Program,
    advocate: Advocate,
    record: OrderRecord,
    claim: FriendClaim | None,
    friend_check=None,
) -> ReferralContext:
    """Everything the rules need about one attributed order.

    `friend_check(record) -> bool` asks Saleor whether the buyer paid an earlier order
    (see plugin.referrals.friend_check); orders we saw ourselves count without asking.
    """
    cfg = current_app.config["SETTINGS"]
    had_paid_order = earlier_paid_order_known(session, record) is not None
    if not had_paid_order and friend_check is not None:
        had_paid_order = bool(friend_check(record))
    clicked_at = claim.clicked_at if claim is not None else None
    return ReferralContext(
        advocate_email=advocate.email,
        advocate_user_id=advocate.saleor_user_id,
        advocate_shipping_fingerprint=_advocate_fingerprint(session, advocate),
        friend_email=record.email,
        friend_user_id=record.saleor_user_id,
        friend_shipping_fingerprint=record.shipping_fingerprint,
        order_total=record.total,
        min_order=program.rewards_for(record.channel_slug).min_order,
        rewards_last_30d=rewards_in_30_days(session, advocate.id),
        max_rewards_30d=program.caps.rewards_per_advocate_30d,
        claims_same_day=claims_in_day(session, advocate.id, record.created_at),
        max_claims_per_day=program.caps.claims_per_code_per_day,
        friend_had_paid_order=had_paid_order,
        seconds_click_to_order=(record.created_at - clicked_at).total_seconds() if clicked_at else None,
        min_seconds_click_to_order=program.fraud.min_seconds_click_to_order or DEFAULT_MIN_SECONDS_CLICK_TO_ORDER,
        landing_referrer_host=referrer_host(claim.landing_referrer) if claim is not None else None,
        coupon_site_domains=coupon_site_domains(cfg.coupon_sites_file) | set(program.fraud.coupon_site_domains),
        disposable_domains=disposable_domains(cfg.disposable_domains_file),
    )
