"""The offer in words, as the widget, landing page and e-mails show it."""

from __future__ import annotations

from plugin.program.experiments import variant_friend_offer, variant_rewards
from plugin.program.settings import Program
from plugin.referrals.models import Advocate


def offer_texts(program: Program, advocate: Advocate, locale: str, rewarded: int = 0) -> dict[str, str]:
    """`referrer_reward` is what the advocate's next friend earns them: with tiers, that depends on
    how many friends are already rewarded (`rewarded`, see docs/REWARDS.md)."""
    rewards = program.rewards_for(advocate.channel_slug)
    referrer, _friend = variant_rewards(program, advocate.variant, rewards)
    friend_offer = variant_friend_offer(program, advocate.variant)
    return {
        "friend_offer": friend_offer.describe(advocate.currency, locale),
        "referrer_reward": rewards.referrer_reward(referrer, rewarded + 1).describe(advocate.currency, locale),
    }
