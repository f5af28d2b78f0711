"""Tiers, milestones and progress as pure rules: which reward the Nth rewarded friend earns, which
milestone it reaches and what the advocate sees as their next goal (plugin/rewards/ladder.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from plugin.program.settings import ChannelRewards, Milestone, RewardSpec, Tier
from plugin.rewards.commission import commission_amount
from plugin.rewards.ladder import MILESTONE, TIER, Goal, milestone_for, next_goal_for, referrer_reward_for

BASE = RewardSpec("FIXED", Decimal("10"))
FIFTEEN = RewardSpec("FIXED", Decimal("15"))
GIFT_CARD_20 = RewardSpec("STORE_CREDIT", Decimal("20"))
BONUS_50 = RewardSpec("STORE_CREDIT", Decimal("50"))
# The issue's example: friends 1-2 → 10 USD, 3-5 → 15 USD, 6+ → a 20 USD gift card; the 5th friend → 50 USD.
ISSUE_EXAMPLE = ChannelRewards(
    referrer=BASE,
    friend=RewardSpec("PERCENTAGE", Decimal("10")),
    min_order=Decimal(0),
    expiry_days=90,
    tiers=(Tier(3, FIFTEEN), Tier(6, GIFT_CARD_20)),
    milestones=(Milestone(5, BONUS_50),),
)


@pytest.mark.parametrize(
    "nth, expected",
    [(1, BASE), (2, BASE), (3, FIFTEEN), (4, FIFTEEN), (5, FIFTEEN), (6, GIFT_CARD_20), (50, GIFT_CARD_20)],
)
def test_the_nth_rewarded_friend_earns_the_reward_of_its_tier(nth, expected):
    assert referrer_reward_for(ISSUE_EXAMPLE, BASE, nth) == expected


def test_without_tiers_every_friend_earns_the_base_reward():
    flat = ChannelRewards(referrer=BASE, friend=BASE, min_order=Decimal(0), expiry_days=90)
    assert {referrer_reward_for(flat, BASE, n) for n in range(1, 20)} == {BASE}


def test_a_milestone_is_reached_at_exactly_its_count():
    assert [n for n in range(1, 20) if milestone_for(ISSUE_EXAMPLE, n)] == [5]
    assert milestone_for(ISSUE_EXAMPLE, 5) == Milestone(5, BONUS_50)


@pytest.mark.parametrize(
    "rewarded, expected",
    [
        (0, Goal(TIER, 2, 2, FIFTEEN, 0)),  # "2 more friends to unlock $15"
        (1, Goal(TIER, 2, 1, FIFTEEN, 1)),
        (2, Goal(MILESTONE, 5, 3, BONUS_50, 2)),  # 15 unlocked; next: the milestone at 5 (tier 6 unlocks at 5 too)
        (4, Goal(MILESTONE, 5, 1, BONUS_50, 4)),
        (5, None),  # the 6+ tier is unlocked and the milestone reached
        (9, None),
    ],
)
def test_next_goal_is_the_nearest_tier_or_milestone(rewarded, expected):
    assert next_goal_for(ISSUE_EXAMPLE, rewarded) == expected


def test_a_tier_alone_ahead_is_the_goal():
    rewards = ChannelRewards(
        referrer=BASE, friend=BASE, min_order=Decimal(0), expiry_days=90, tiers=(Tier(6, GIFT_CARD_20),)
    )
    assert next_goal_for(rewards, 3) == Goal(TIER, 5, 2, GIFT_CARD_20, 3)
    assert next_goal_for(rewards, 5) is None


@pytest.mark.parametrize(
    "rate, cap, base, currency, expected",
    [
        ("10", "15", "80.00", "USD", "8.00"),  # 10 % of 80
        ("10", "15", "300.00", "USD", "15"),  # capped
        ("12.5", "100", "33.33", "USD", "4.17"),  # half-up to cents
        ("7", "1000", "1234", "JPY", "86"),  # no minor unit in yen
        ("10", "15", "0", "USD", "0"),
    ],
)
def test_commission_is_the_rate_of_the_base_rounded_and_capped(rate, cap, base, currency, expected):
    assert commission_amount(Decimal(rate), Decimal(cap), Decimal(base), currency) == Decimal(expected)
