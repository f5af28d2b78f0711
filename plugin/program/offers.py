"""The offer in words, as the widget, landing page and e-mails show it."""

from __future__ import annotations

from plugin.program.experiments import variant_friend_offer, variant_rewards
from plugin.program.settings import Program
from plugin.referrals.models import Advocate


def offer_texts(program: Program, advocate: Advocate, locale: str) -> dict[str, str]:
    rewards = program.rewards_for(advocate.channel_slug)
    referrer, _friend = variant_rewards(program, advocate.variant, rewards)
    friend_offer = variant_friend_offer(program, advocate.variant)
    return {
        "friend_offer": friend_offer.describe(advocate.currency, locale),
        "referrer_reward": referrer.describe(advocate.currency, locale),
    }
