"""A/B tests of the offer, with an optional holdout that gets no offer at all.

Assignment is a hash of the advocate's code, so it is sticky without storing
anything else, and stored on the advocate so later weight changes do not move
existing advocates between variants.
"""
from __future__ import annotations

import hashlib
from decimal import Decimal

from plugin.program.settings import ChannelRewards, Program, RewardSpec

HOLDOUT = "holdout"


def _bucket(key: str) -> float:
    digest = hashlib.sha256(f"ab:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_variant(program: Program, key: str) -> str | None:
    test = program["ab_test"]
    if not test.get("enabled"):
        return None
    point = _bucket(key) * 100
    holdout = float(test.get("holdout_percent") or 0)
    if point < holdout:
        return HOLDOUT
    variants = [v for v in test.get("variants") or [] if float(v.get("weight") or 0) > 0]
    if not variants:
        return None
    total = sum(float(v["weight"]) for v in variants)
    scaled = (point - holdout) / (100 - holdout) * total if holdout < 100 else 0
    running = 0.0
    for variant in variants:
        running += float(variant["weight"])
        if scaled < running:
            return str(variant["name"])
    return str(variants[-1]["name"])


def _variant(program: Program, name: str | None) -> dict | None:
    if not name or name == HOLDOUT:
        return None
    return next((v for v in program["ab_test"].get("variants") or [] if str(v.get("name")) == name), None)


def _spec(data: dict | None, fallback: RewardSpec) -> RewardSpec:
    if not data:
        return fallback
    return RewardSpec(data.get("type", fallback.type), Decimal(str(data.get("value", fallback.value))))


def variant_rewards(program: Program, variant: str | None, rewards: ChannelRewards) -> tuple[RewardSpec, RewardSpec]:
    chosen = _variant(program, variant)
    if chosen is None:
        return rewards.referrer, rewards.friend
    return _spec(chosen.get("referrer"), rewards.referrer), _spec(chosen.get("friend"), rewards.friend)


def variant_friend_offer(program: Program, variant: str | None) -> RewardSpec:
    chosen = _variant(program, variant)
    return _spec(chosen.get("friend_offer") if chosen else None, program.friend_offer)
