"""Which rewards an approved referral earns, reserved as coupons (created in Saleor after the commit).

    earned_rewards(session, program, referral)   # → what to reserve (plugin.referrals.lifecycle.approve)

* The friend gets the channel's friend reward (or their A/B variant's).
* The referrer gets the reward of the tier this friend falls in: the advocate's rewarded friends
  are counted under the advocate's row lock, so two friends approved at the same moment are
  numbered one after the other (the number is kept as `referral.friend_rank`). A COMMISSION is
  computed from the friend's order (plugin/rewards/commission.py) and paid as store credit.
* The friend that makes the count reach a milestone also earns its bonus, once per advocate and
  milestone: the coupon's `award_key` is unique, so duplicate or concurrent deliveries, a replay
  or a later friend reaching the same count again never pay it twice (docs/REWARDS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.i18n import money, percent
from plugin.ledger import note_referral
from plugin.program.experiments import variant_rewards
from plugin.program.settings import COMMISSION, ChannelRewards, Program, RewardSpec
from plugin.referrals.models import Advocate, OrderRecord, Referral
from plugin.rewards.commission import commission_amount
from plugin.rewards.ladder import milestone_for, referrer_reward_for, rewarded_friends
from plugin.rewards.milestones import milestone_key


@dataclass(frozen=True)
class Earned:
    """One reward to reserve for a referral."""

    purpose: str
    spec: RewardSpec
    recipient_email: str
    advocate_id: int | None
    award_key: str | None = None
    rate: Decimal | None = None
    base_amount: Decimal | None = None


def rank_friend(session: Session, referral: Referral) -> int:
    """Number this (just approved) referral among the advocate's rewarded friends, under the
    advocate's row lock so concurrent approvals of one advocate's friends count one by one."""
    session.execute(select(Advocate.id).where(Advocate.id == referral.advocate_id).with_for_update())
    if referral.friend_rank is None:
        referral.friend_rank = rewarded_friends(session, referral.advocate_id, excluding=referral.id) + 1
    return referral.friend_rank


def _referrer_reward(
    session: Session,
    rewards: ChannelRewards,
    base: RewardSpec,
    referral: Referral,
    advocate: Advocate,
    order: OrderRecord,
    rank: int,
) -> Earned | None:
    spec = referrer_reward_for(rewards, base, rank)
    if spec.type != COMMISSION:
        return Earned(Coupon.REFERRER_REWARD, spec, advocate.contact_email, advocate.id)
    base_amount = order.subtotal_net if order.subtotal_net is not None else Decimal(0)
    amount = commission_amount(spec.value, spec.cap or Decimal(0), base_amount, referral.currency)
    described = (
        f"Commission {percent(spec.value, 'en')} of the friend's order subtotal "
        f"{money(base_amount, referral.currency, 'en')} (net of discounts, without shipping and tax)"
    )
    if amount <= 0:
        note_referral(session, referral, f"{described} comes to nothing: no advocate reward.")
        return None
    capped = " (capped)" if amount == spec.cap and base_amount * spec.value / 100 > amount else ""
    note_referral(session, referral, f"{described} = {money(amount, referral.currency, 'en')}{capped}.")
    return Earned(
        Coupon.REFERRER_REWARD,
        RewardSpec(COMMISSION, amount, spec.cap),
        advocate.contact_email,
        advocate.id,
        rate=spec.value,
        base_amount=base_amount,
    )


def _milestone_reward(
    session: Session, rewards: ChannelRewards, referral: Referral, advocate: Advocate, rank: int
) -> Earned | None:
    milestone = milestone_for(rewards, rank)
    if milestone is None:
        return None
    key = milestone_key(advocate.id, milestone.at)
    paid = session.scalar(select(Coupon).where(Coupon.award_key == key))
    if paid is not None and paid.referral_id != referral.id:
        note_referral(
            session,
            referral,
            f"Friend #{rank} reaches the milestone of {milestone.at} friends again; "
            f"its bonus was already paid once (reward {paid.id}), so not again.",
        )
        return None
    note_referral(
        session,
        referral,
        f"Friend #{rank} reaches the milestone of {milestone.at} friends: bonus "
        f"{milestone.reward.describe(referral.currency, 'en')}.",
    )
    return Earned(Coupon.MILESTONE_REWARD, milestone.reward, advocate.contact_email, advocate.id, award_key=key)


def earned_rewards(session: Session, program: Program, referral: Referral) -> list[Earned]:
    advocate = session.get(Advocate, referral.advocate_id)
    order = session.get(OrderRecord, referral.order_record_id)
    rewards = program.rewards_for(referral.channel_slug)
    base_referrer, friend = variant_rewards(program, advocate.variant, rewards)
    rank = rank_friend(session, referral)
    if rewards.tiers:
        tier_spec = referrer_reward_for(rewards, base_referrer, rank)
        note_referral(
            session,
            referral,
            f"Friend #{rank} of this advocate: advocate reward {tier_spec.describe(referral.currency, 'en')}.",
        )
    earned = [
        _referrer_reward(session, rewards, base_referrer, referral, advocate, order, rank),
        Earned(Coupon.FRIEND_REWARD, friend, referral.friend_contact_email, None),
        _milestone_reward(session, rewards, referral, advocate, rank),
    ]
    return [e for e in earned if e is not None]
