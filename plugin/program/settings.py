"""The referral program a merchant runs: defaults, per-tenant overrides, per-channel rewards.

Stored as a JSON document of overrides (`ProgramSettings.data`) merged over
`DEFAULTS`, so new settings get sensible values without a migration.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.i18n import money, percent
from plugin.program.models import ProgramSettings

TRIGGER_STATUSES = ("FULLY_PAID", "PAID", "FULFILLED")

DEFAULTS: dict = {
    "enabled": True,
    "trigger_status": "FULLY_PAID",
    # Rewards for channels without their own entry; values in the channel's currency.
    "default_rewards": {
        "referrer": {"type": "FIXED", "value": "10"},
        "friend": {"type": "PERCENTAGE", "value": "10"},
        "min_order": "0",
        "expiry_days": 90,
    },
    "channels": {},  # slug -> same shape as default_rewards, partial allowed
    "friend_offer": {"type": "PERCENTAGE", "value": "10", "expiry_days": 14},
    "hold_days": 0,
    "caps": {"rewards_per_advocate_30d": 10, "claims_per_code_per_day": 20},
    "storefront_url": "",  # e.g. "https://shop.example.com/"
    "storefront_url_template": "",  # e.g. "https://shop.example.com/cart?promo={code}&ref={referral_code}"
    "storefront_origins": [],
    "email": {"sender": "", "reply_to": "", "subjects": {}, "intros": {}},
    "widget": {"title": {}, "texts": {}},
    "languages": ["en", "ru", "pl", "lv"],
    "default_locale": "en",
    "fraud": {"rules": {}, "coupon_site_domains": []},
    "ab_test": {"enabled": False, "variants": [], "holdout_percent": 0},
}


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class RewardSpec:
    type: str  # FIXED | PERCENTAGE
    value: Decimal

    def describe(self, currency: str, locale: str) -> str:
        """The reward's value as people reading `locale` write it: "$10", "10 zł", "10%"."""
        return percent(self.value, locale) if self.type == "PERCENTAGE" else money(self.value, currency, locale)


@dataclass(frozen=True)
class ChannelRewards:
    referrer: RewardSpec
    friend: RewardSpec
    min_order: Decimal
    expiry_days: int


class Program:
    """Read-only view of one tenant's effective settings."""

    def __init__(self, data: dict):
        self.data = data

    def __getitem__(self, key):
        return self.data[key]

    @property
    def enabled(self) -> bool:
        return bool(self.data["enabled"])

    @property
    def trigger_status(self) -> str:
        return self.data["trigger_status"]

    def rewards_for(self, channel_slug: str) -> ChannelRewards:
        merged = deep_merge(self.data["default_rewards"], self.data["channels"].get(channel_slug) or {})
        return ChannelRewards(
            referrer=RewardSpec(merged["referrer"]["type"], Decimal(str(merged["referrer"]["value"]))),
            friend=RewardSpec(merged["friend"]["type"], Decimal(str(merged["friend"]["value"]))),
            min_order=Decimal(str(merged.get("min_order") or 0)),
            expiry_days=int(merged.get("expiry_days") or 90),
        )

    @property
    def friend_offer(self) -> RewardSpec:
        offer = self.data["friend_offer"]
        return RewardSpec(offer["type"], Decimal(str(offer["value"])))


def load_program(session: Session, tenant_id: int) -> Program:
    row = session.scalar(select(ProgramSettings).where(ProgramSettings.tenant_id == tenant_id))
    return Program(deep_merge(DEFAULTS, row.data if row else {}))
