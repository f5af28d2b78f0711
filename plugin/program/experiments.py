"""A/B tests of the offer, with an optional holdout that gets no offer at all.

Assignment is a hash of the advocate's code, so it is sticky without storing
anything else, and stored on the advocate so later weight changes do not move
existing advocates between variants.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from plugin.program.settings import ChannelRewards, Program, RewardSpec, Variant

HOLDOUT = "holdout"


def _bucket(key: str) -> float:
    digest = hashlib.sha256(f"ab:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_variant(program: Program, key: str) -> str | None:
    test = program.ab_test
    if not test.enabled:
        return None
    point = _bucket(key) * 100
    holdout = test.holdout_percent
    if point < holdout:
        return HOLDOUT
    variants = [v for v in test.variants if v.weight > 0]
    if not variants:
        return None
    total = sum(v.weight for v in variants)
    scaled = (point - holdout) / (100 - holdout) * total if holdout < 100 else 0
    running = 0.0
    for variant in variants:
        running += variant.weight
        if scaled < running:
            return variant.name
    return variants[-1].name


def _variant(program: Program, name: str | None) -> Variant | None:
    if not name or name == HOLDOUT:
        return None
    return next((v for v in program.ab_test.variants if v.name == name), None)


def _spec(data: dict | None, fallback: RewardSpec) -> RewardSpec:
    if not data:
        return fallback
    return RewardSpec(data.get("type", fallback.type), Decimal(str(data.get("value", fallback.value))))


def variant_rewards(program: Program, variant: str | None, rewards: ChannelRewards) -> tuple[RewardSpec, RewardSpec]:
    chosen = _variant(program, variant)
    if chosen is None:
        return rewards.referrer, rewards.friend
    return _spec(chosen.referrer, rewards.referrer), _spec(chosen.friend, rewards.friend)


def variant_friend_offer(program: Program, variant: str | None) -> RewardSpec:
    chosen = _variant(program, variant)
    return _spec(chosen.friend_offer if chosen else None, program.friend_offer)
