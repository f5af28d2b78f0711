"""Tiers, milestones and the advocate's progress toward the next one.

An advocate's *rewarded friends* are their referrals that were approved and stay so (states
approved and issued): a held, rejected or revoked referral does not count. The friend being
approved now is number `rewarded + 1`; it earns the reward of the highest tier that starts at or
below that number (the base referrer reward before the first tier), and reaches the milestone set
at exactly that number, if any.

    next_goal(session, advocate, program)   # → Goal | None: what the advocate works toward now
    progress_text(goal, currency, locale)   # → "2 more friends to unlock $15", in the reader's language
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.i18n import tn
from plugin.program.settings import ChannelRewards, Milestone, Program, RewardSpec
from plugin.referrals.models import Advocate, Referral

# Referral states that count as a rewarded friend: approved, with its rewards being created or created.
COUNTED_STATES = (Referral.APPROVED, Referral.ISSUED)
TIER, MILESTONE = "tier", "milestone"


@dataclass(frozen=True)
class Goal:
    """What the advocate works toward: `remaining` more rewarded friends reach it.

    kind "tier": from then on each friend earns `reward`; "milestone": a one-off `reward`.
    `at` is the rewarded-friend count at which the goal is reached, so a progress bar is
    `rewarded` out of `at`.
    """

    kind: str
    at: int
    remaining: int
    reward: RewardSpec
    rewarded: int


def referrer_reward_for(rewards: ChannelRewards, base: RewardSpec, nth: int) -> RewardSpec:
    """The referrer's reward for their `nth` rewarded friend (1-based)."""
    return rewards.referrer_reward(base, nth)


def milestone_for(rewards: ChannelRewards, nth: int) -> Milestone | None:
    """The milestone the `nth` rewarded friend reaches, if one is set at exactly that count."""
    return rewards.milestone_at(nth)


def next_goal_for(rewards: ChannelRewards, rewarded: int) -> Goal | None:
    """The nearest goal after `rewarded` friends, or None when every tier and milestone is behind.

    A tier starting at friend N is *unlocked* once N - 1 friends are rewarded (the next friend
    earns it); a milestone at N is reached by the Nth friend. On a tie the milestone is named.
    """
    goals = [
        Goal(TIER, tier.from_friend - 1, tier.from_friend - 1 - rewarded, tier.reward, rewarded)
        for tier in rewards.tiers
        if tier.from_friend - 1 > rewarded
    ]
    goals += [Goal(MILESTONE, m.at, m.at - rewarded, m.reward, rewarded) for m in rewards.milestones if m.at > rewarded]
    if not goals:
        return None
    return min(goals, key=lambda goal: (goal.remaining, goal.kind != MILESTONE))


def rewarded_friends(session: Session, advocate_id: int, *, excluding: int | None = None) -> int:
    """How many of the advocate's referrals are approved and stay so (optionally not counting one)."""
    query = select(func.count(Referral.id)).where(
        Referral.advocate_id == advocate_id, Referral.state.in_(COUNTED_STATES)
    )
    if excluding is not None:
        query = query.where(Referral.id != excluding)
    return session.scalar(query) or 0


def next_goal(session: Session, advocate: Advocate, program: Program) -> Goal | None:
    """The advocate's progress toward their next tier or milestone, in their channel's program
    (what the widget, the portal and the e-mails show; None when nothing is left to reach)."""
    rewards = program.rewards_for(advocate.channel_slug)
    return next_goal_for(rewards, rewarded_friends(session, advocate.id))


def progress_text(goal: Goal | None, currency: str, locale: str) -> str:
    """The goal in the reader's language with the plural form of its count: "2 more friends to
    unlock $15", "Ещё 5 друзей — и вы дополнительно получите …" (empty without a goal)."""
    if goal is None:
        return ""
    return tn(locale, f"progress.{goal.kind}", goal.remaining, reward=goal.reward.describe(currency, locale))
