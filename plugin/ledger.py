"""State changes of referrals and coupons, each recorded with reason and actor."""

from __future__ import annotations

from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.merchant_webhooks import events
from plugin.referrals.models import LedgerEntry, Referral


def move_referral(session: Session, referral: Referral, to_state: str, reason: str, actor: str = "system") -> None:
    if referral.state == to_state and referral.id is not None:
        return
    from_state = referral.state if referral.id else None
    session.add(
        LedgerEntry(
            tenant_id=referral.tenant_id,
            referral=referral,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
            actor=actor,
        )
    )
    referral.state = to_state
    events.referral_moved(session, referral, from_state, reason, actor)


def move_coupon(session: Session, coupon: Coupon, to_state: str, reason: str, actor: str = "system") -> None:
    if coupon.state == to_state:
        return
    from_state = coupon.state
    session.add(
        LedgerEntry(
            tenant_id=coupon.tenant_id,
            referral_id=coupon.referral_id,
            coupon_id=coupon.id,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
            actor=actor,
        )
    )
    coupon.state = to_state
    events.reward_moved(session, coupon, from_state, reason, actor)


def note_referral(session: Session, referral: Referral, reason: str, actor: str = "system") -> None:
    """A ledger line that explains a decision without changing the referral's state (which tier,
    which milestone, how a commission was computed, what a revocation did to a milestone)."""
    session.add(
        LedgerEntry(
            tenant_id=referral.tenant_id,
            referral=referral,
            from_state=referral.state,
            to_state=referral.state,
            reason=reason,
            actor=actor,
        )
    )


def note_coupon(session: Session, coupon: Coupon, reason: str, actor: str = "system") -> None:
    """A ledger line about a coupon that does not change its state."""
    session.add(
        LedgerEntry(
            tenant_id=coupon.tenant_id,
            referral_id=coupon.referral_id,
            coupon_id=coupon.id,
            from_state=coupon.state,
            to_state=coupon.state,
            reason=reason,
            actor=actor,
        )
    )
