"""A friend claims an advocate's offer from the landing page.

Each friend (by normalised e-mail) gets one single-use code per advocate,
minted at claim time: nothing to leak to coupon sites, no code bank to run dry.
The code is reserved in our database and committed first, then created in
Saleor; if Saleor is down the sweeper retries and the friend gets the code by
e-mail. Claiming again with the same address answers exactly like a first claim
and sends the e-mail with the code once more; the code itself shows only in
the browser that made the claim (its signed cookie holds the claim's id).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.analytics.models import FunnelEvent
from plugin.coupons import service as coupons
from plugin.coupons.models import Coupon
from plugin.db import serialized, session_scope, utcnow
from plugin.identity import canonical_code, normalize_email, valid_email
from plugin.mail.models import OutboundEmail
from plugin.mail.outbox import requeue
from plugin.program.experiments import HOLDOUT, variant_friend_offer
from plugin.program.settings import Program
from plugin.referrals.models import Advocate, FriendClaim

log = logging.getLogger(__name__)


class ClaimRefused(Exception):
    INVALID_EMAIL, OWN_EMAIL, DAILY_CAP = "invalid_email", "own_email", "daily_cap"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class ClaimOutcome:
    claim_id: int
    coupon_id: int
    code: str
    contact_email: str
    created: bool  # False: this friend had claimed before and gets the same code


def usable_email(value) -> str | None:
    """One valid address, in the form we send to; None for anything else (lists, names, control characters)."""
    return valid_email(value)


def find_advocate(code: str | None) -> tuple[int, int] | None:
    """(tenant_id, advocate_id) for a share code, across shops; None for an unusable one.

    Codes are unique per shop; should two shops ever draw the same one, the older advocate wins.
    """
    canonical = canonical_code(code)
    if canonical is None:
        return None
    with session_scope() as session:
        row = session.execute(
            select(Advocate.tenant_id, Advocate.id)
            .where(Advocate.code == canonical, Advocate.erased_at.is_(None))
            .order_by(Advocate.id)
            .limit(1)
        ).first()
    return (row[0], row[1]) if row else None


def offers_available(program: Program, advocate: Advocate) -> bool:
    """Holdout advocates and a switched-off program get no offer at all."""
    return program.enabled and advocate.variant != HOLDOUT and advocate.erased_at is None


def record_funnel_event(session: Session, kind: str, advocate: Advocate, share_channel: str | None = None) -> None:
    session.add(
        FunnelEvent(
            tenant_id=advocate.tenant_id,
            kind=kind,
            advocate_id=advocate.id,
            channel_slug=advocate.channel_slug,
            share_channel=share_channel,
            variant=advocate.variant,
        )
    )


def claim_offer(
    session: Session,
    program: Program,
    advocate_id: int,
    *,
    email: str,
    remind: bool = False,
    landing_referrer: str | None = None,
    clicked_at: datetime | None = None,
    locale: str | None = None,
) -> ClaimOutcome:
    """Reserve (or find) this friend's code. The caller commits, then calls `issue_now`.

    Asking for the code is the request to e-mail it (no consent box); `remind` is the optional
    "Remind me before my code expires" (plugin.referrals.reminders), kept with its time. A repeat
    claim that ticks it turns the reminder on for the existing claim (it never turns it off)."""
    contact = usable_email(email)
    if contact is None:
        raise ClaimRefused(ClaimRefused.INVALID_EMAIL)
    normalized = normalize_email(contact)
    with serialized(session):
        # The advocate's row lock serialises claims per code, so the daily cap holds under concurrency.
        advocate = session.scalar(select(Advocate).where(Advocate.id == advocate_id).with_for_update())
        if normalized == advocate.email:
            raise ClaimRefused(ClaimRefused.OWN_EMAIL)
        # The cap answers the same for a known address as for a new one: no answer may tell them apart.
        cap = program.caps.claims_per_code_per_day
        claimed_today = session.scalar(
            select(func.count(FriendClaim.id)).where(
                FriendClaim.advocate_id == advocate.id, FriendClaim.created_at >= utcnow() - timedelta(days=1)
            )
        )
        if cap and claimed_today >= cap:
            raise ClaimRefused(ClaimRefused.DAILY_CAP)
        existing = _existing_claim(session, advocate.id, normalized, remind=remind)
        if existing is not None:
            return existing
        try:
            with session.begin_nested():
                coupon = coupons.reserve_coupon(
                    session,
                    tenant_id=advocate.tenant_id,
                    purpose=Coupon.FRIEND_OFFER,
                    spec=variant_friend_offer(program, advocate.variant),
                    recipient_email=contact,
                    channel_slug=advocate.channel_slug,
                    saleor_channel_id=advocate.saleor_channel_id,
                    currency=advocate.currency,
                    expiry_days=program.offer.expiry_days,
                    min_order=program.offer.min_order,
                    advocate_id=advocate.id,
                )
                claim = FriendClaim(
                    tenant_id=advocate.tenant_id,
                    advocate_id=advocate.id,
                    email=normalized,
                    contact_email=contact,
                    coupon_id=coupon.id,
                    consent_at=utcnow(),
                    remind_opt_in_at=utcnow() if remind else None,
                    landing_referrer=(landing_referrer or None),
                    clicked_at=clicked_at,
                    locale=locale,
                )
                session.add(claim)
                session.flush()
        except IntegrityError:  # the same friend, claiming twice at the same instant
            found = _existing_claim(session, advocate.id, normalized, remind=remind)
            if found is None:
                raise
            return found
        record_funnel_event(session, FunnelEvent.CLAIM, advocate)
        return ClaimOutcome(claim.id, coupon.id, coupon.code, contact, created=True)


def _existing_claim(
    session: Session, advocate_id: int, normalized_email: str, *, remind: bool = False
) -> ClaimOutcome | None:
    row = session.execute(
        select(FriendClaim, Coupon)
        .join(Coupon, Coupon.id == FriendClaim.coupon_id)
        .where(FriendClaim.advocate_id == advocate_id, FriendClaim.email == normalized_email)
    ).first()
    if row is None:
        return None
    claim, coupon = row
    if remind and claim.remind_opt_in_at is None:
        claim.remind_opt_in_at = utcnow()
    return ClaimOutcome(claim.id, coupon.id, coupon.code, claim.contact_email, created=False)


@dataclass
class BrowserClaim:
    contact_email: str
    coupon: Coupon


def claim_of_browser(tenant_id: int, advocate_id: int, claim_id: int | None) -> BrowserClaim | None:
    """The claim a browser's cookie names, if it is a claim of this advocate's code."""
    if claim_id is None:
        return None
    with session_scope(tenant_id) as session:
        row = session.execute(
            select(FriendClaim.contact_email, Coupon)
            .join(Coupon, Coupon.id == FriendClaim.coupon_id)
            .where(FriendClaim.id == claim_id, FriendClaim.advocate_id == advocate_id)
        ).first()
    return BrowserClaim(row[0], row[1]) if row else None


def resend_offer_email(tenant_id: int, coupon_id: int) -> None:
    """A repeat claim: send the friend's e-mail with their code once more (if it went out before and
    the code is still live; a code not yet created in Saleor is e-mailed when it is)."""
    with session_scope(tenant_id) as session:
        coupon = session.get(Coupon, coupon_id)
        email = session.scalar(select(OutboundEmail).where(OutboundEmail.coupon_id == coupon_id).with_for_update())
        if coupon is None or coupon.state != Coupon.ISSUED or email is None or email.status == OutboundEmail.PENDING:
            return
        requeue(session, email)


def issue_now(tenant_id: int, coupon_id: int) -> bool:
    """Create the reserved code in Saleor right away (and queue its e-mail); True when it exists there.

    On failure the coupon stays reserved: the sweeper retries it and the e-mail follows.
    """
    try:
        coupons.issue_coupon(tenant_id, coupon_id)
    except Exception as exc:  # noqa: BLE001 - Saleor down or refusing: the friend gets an e-mail later
        log.warning("friend code %s not created in Saleor yet: %s", coupon_id, type(exc).__name__)
    with session_scope(tenant_id) as session:
        state = session.scalar(select(Coupon.state).where(Coupon.id == coupon_id))
    return state in (Coupon.ISSUED, Coupon.USED)
