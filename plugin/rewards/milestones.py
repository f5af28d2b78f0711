"""Milestone bonuses: their key (once per advocate and milestone) and what a revocation does to them.

The rule (docs/REWARDS.md): a bonus belongs to the referral that reached the milestone and is
taken back with it; revoking an *earlier* counted referral leaves it paid, and its ledger says so.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.ledger import note_coupon
from plugin.referrals.models import LedgerEntry, Referral


def milestone_key(advocate_id: int, at: int) -> str:
    """The coupon's `award_key`: unique per shop, so a milestone is paid at most once per advocate."""
    return f"milestone:{advocate_id}:{at}"


def note_revocation_on_milestones(session: Session, revoked: Referral) -> None:
    """A revoked referral takes its own rewards back (a milestone bonus it reached included, by
    revoke_referral). A milestone reached *later*, counting this friend, stays paid: the ledger of
    that bonus says which counted friend was revoked (docs/REWARDS.md)."""
    if revoked.friend_rank is None:
        return
    later = session.execute(
        select(Coupon, Referral.friend_rank)
        .join(Referral, Referral.id == Coupon.referral_id)
        .where(
            Coupon.advocate_id == revoked.advocate_id,
            Coupon.purpose == Coupon.MILESTONE_REWARD,
            Coupon.referral_id != revoked.id,
            Referral.friend_rank > revoked.friend_rank,
        )
        .order_by(Coupon.id)
    ).all()
    for coupon, rank in later:
        reason = (
            f"Friend #{revoked.friend_rank} (referral {revoked.id}), counted toward this milestone, was "
            f"revoked; the bonus stays: {rank} friends were rewarded when it was reached."
        )
        already = session.scalar(
            select(LedgerEntry.id).where(LedgerEntry.coupon_id == coupon.id, LedgerEntry.reason == reason)
        )
        if already is None:  # a revocation may be re-driven
            note_coupon(session, coupon, reason)
