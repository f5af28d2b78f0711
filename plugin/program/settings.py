"""The referral program a merchant runs: defaults, per-tenant overrides, per-channel rewards.

Stored as a JSON document of overrides (`ProgramSettings.data`) merged over
`DEFAULTS`, so new settings get sensible values without a migration.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.i18n import money, percent, t
from plugin.program.models import ProgramSettings

TRIGGER_STATUSES = ("FULLY_PAID", "PAID", "FULFILLED")

# Reward kinds. Vouchers: FIXED and PERCENTAGE (ENTIRE_ORDER), FREE_SHIPPING (a SHIPPING voucher at 100 %).
# Gift cards: STORE_CREDIT (a fixed balance) and COMMISSION (a percentage of the friend's order, capped,
# paid as store credit). See docs/REWARDS.md.
FIXED, PERCENTAGE, FREE_SHIPPING, STORE_CREDIT, COMMISSION = (
    "FIXED",
    "PERCENTAGE",
    "FREE_SHIPPING",
    "STORE_CREDIT",
    "COMMISSION",
)
VOUCHER_KINDS = (FIXED, PERCENTAGE, FREE_SHIPPING)
GIFT_CARD_KINDS = (STORE_CREDIT, COMMISSION)
# Which kinds each place of the program may use. Commission needs the friend's order, so only the
# referrer's reward (and its tiers) can be one; the friend offer is a code the friend types before
# ordering, so it stays an order discount.
KINDS_BY_SIDE = {
    "referrer": (FIXED, PERCENTAGE, FREE_SHIPPING, STORE_CREDIT, COMMISSION),
    "friend": (FIXED, PERCENTAGE, FREE_SHIPPING, STORE_CREDIT),
    "milestone": (FIXED, PERCENTAGE, FREE_SHIPPING, STORE_CREDIT),
    "friend_offer": (FIXED, PERCENTAGE),
}

DEFAULTS: dict = {
    "enabled": True,
    "trigger_status": "FULLY_PAID",
    # Rewards for channels without their own entry; values in the channel's currency.
    "default_rewards": {
        "referrer": {"type": "FIXED", "value": "10"},
        "friend": {"type": "PERCENTAGE", "value": "10"},
        "min_order": "0",
        "expiry_days": 90,
        # The referrer's reward from the Nth rewarded friend on: [{"from": 3, "reward": {...}}, ...].
        "tiers": [],
        # A one-off bonus at the Nth rewarded friend: [{"at": 5, "reward": {...}}, ...].
        "milestones": [],
    },
    "channels": {},  # slug -> same shape as default_rewards, partial allowed
    "friend_offer": {"type": "PERCENTAGE", "value": "10", "expiry_days": 14},
    "hold_days": 0,
    "caps": {"rewards_per_advocate_30d": 10, "claims_per_code_per_day": 20},
    "storefront_url": "",  # e.g. "https://shop.example.com/"
    "storefront_url_template": "",  # e.g. "https://shop.example.com/cart?promo={code}&ref={referral_code}"
    "storefront_origins": [],
    "email": {"sender": "", "reply_to": "", "subjects": {}, "intros": {}},
    # E-mails beyond codes and rewards, each of which people can unsubscribe from (docs/ADMIN_API.md).
    "messages": {
        "friend_reminder_days": 3,  # the friend who asked for it is reminded this many days before expiry
        "updates": {"counted": True, "held": True, "progress": True},  # the advocate's updates
    },
    # hashtags: up to 3, stored without "#"; the share texts for X, Facebook, Telegram and WhatsApp carry them.
    "widget": {"title": {}, "texts": {}, "hashtags": []},
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
    type: str  # one of the kinds above
    value: Decimal  # money (FIXED, STORE_CREDIT), percent points (PERCENTAGE, COMMISSION), 0 (FREE_SHIPPING)
    cap: Decimal | None = None  # COMMISSION only: the most one reward pays, in the channel's currency

    @property
    def is_gift_card(self) -> bool:
        return self.type in GIFT_CARD_KINDS

    def describe(self, currency: str, locale: str) -> str:
        """The reward as people reading `locale` write it: "$10", "10 zł", "10%", "free shipping",
        "$20 store credit", "10% of your friend's order (up to $15)"."""
        if self.type == PERCENTAGE:
            return percent(self.value, locale)
        if self.type == FREE_SHIPPING:
            return t(locale, "reward.free_shipping")
        if self.type == STORE_CREDIT:
            return t(locale, "reward.store_credit", amount=money(self.value, currency, locale))
        if self.type == COMMISSION:
            return t(
                locale,
                "reward.commission",
                percent=percent(self.value, locale),
                cap=money(self.cap or 0, currency, locale),
            )
        return money(self.value, currency, locale)

    @classmethod
    def from_settings(cls, data: dict) -> RewardSpec:
        kind = data.get("type") or FIXED
        cap = data.get("cap")
        value = Decimal(0) if kind == FREE_SHIPPING else Decimal(str(data.get("value") or 0))
        return cls(kind, value, Decimal(str(cap)) if kind == COMMISSION and cap not in (None, "") else None)


@dataclass(frozen=True)
class Tier:
    """From the `from_friend`-th rewarded friend on, the referrer earns `reward` per friend."""

    from_friend: int
    reward: RewardSpec


@dataclass(frozen=True)
class Milestone:
    """A one-off bonus when the advocate's `at`-th rewarded friend is approved."""

    at: int
    reward: RewardSpec


@dataclass(frozen=True)
class ChannelRewards:
    referrer: RewardSpec
    friend: RewardSpec
    min_order: Decimal
    expiry_days: int
    tiers: tuple[Tier, ...] = ()
    milestones: tuple[Milestone, ...] = ()

    def referrer_reward(self, base: RewardSpec, nth: int) -> RewardSpec:
        """The referrer's reward for their `nth` rewarded friend (1-based): the highest tier starting at
        or below `nth`, else `base` (the channel's referrer reward, or the advocate's A/B variant's)."""
        reward = base
        for tier in self.tiers:  # validated: strictly increasing
            if tier.from_friend <= nth:
                reward = tier.reward
        return reward

    def milestone_at(self, nth: int) -> Milestone | None:
        """The milestone the `nth` rewarded friend reaches, if one is set at exactly that count."""
        return next((m for m in self.milestones if m.at == nth), None)


@dataclass(frozen=True)
class FriendOffer:
    """What a friend gets for claiming an advocate's link (before any A/B variant)."""

    reward: RewardSpec
    expiry_days: int
    min_order: Decimal


@dataclass(frozen=True)
class Caps:
    rewards_per_advocate_30d: int
    claims_per_code_per_day: int  # 0: no cap


@dataclass(frozen=True)
class EmailSettings:
    sender: str  # "Name <address>" or "", see plugin.mail.delivery.sender_headers
    reply_to: str
    subjects: dict[str, str]  # e-mail key (invite, reward.referrer, ...) -> the merchant's subject
    intros: dict[str, str]  # e-mail key -> the merchant's opening paragraph


@dataclass(frozen=True)
class MessageSettings:
    friend_reminder_days: int  # the reminder goes out this many days before the friend's code expires
    counted: bool  # "your friend's order counted: your reward is on its way" (when the reward is late)
    held: bool  # "... your reward is on hold until <date>"
    progress: bool  # the progress toward the next tier or milestone in the advocate's e-mails


@dataclass(frozen=True)
class WidgetTexts:
    title: dict[str, str]  # locale -> title
    texts: dict[str, str | dict[str, str]]  # widget key -> one text, or {locale: text}
    hashtags: tuple[str, ...] = ()  # without "#"


@dataclass(frozen=True)
class FraudSettings:
    rules: dict[str, str]  # rule -> action, over each rule's default (plugin.fraud.rules)
    coupon_site_domains: tuple[str, ...]
    min_seconds_click_to_order: float | None


@dataclass(frozen=True)
class Variant:
    """One arm of the A/B test: its weight and the rewards it changes (a dict per reward, or None)."""

    name: str
    weight: float
    referrer: dict | None
    friend: dict | None
    friend_offer: dict | None


@dataclass(frozen=True)
class ABTest:
    enabled: bool
    holdout_percent: float
    variants: tuple[Variant, ...]


class Program:
    """Read-only, typed view of one tenant's effective settings (`data`: the merged JSON document)."""

    def __init__(self, data: dict):
        self.data = data

    @property
    def enabled(self) -> bool:
        return bool(self.data["enabled"])

    @property
    def trigger_status(self) -> str:
        return self.data["trigger_status"]

    def rewards_for(self, channel_slug: str) -> ChannelRewards:
        merged = deep_merge(self.data["default_rewards"], self.data["channels"].get(channel_slug) or {})
        return ChannelRewards(
            referrer=RewardSpec.from_settings(merged["referrer"]),
            friend=RewardSpec.from_settings(merged["friend"]),
            min_order=Decimal(str(merged.get("min_order") or 0)),
            expiry_days=int(merged.get("expiry_days") or 90),
            tiers=tuple(
                Tier(int(item["from"]), RewardSpec.from_settings(item["reward"])) for item in merged.get("tiers") or []
            ),
            milestones=tuple(
                Milestone(int(item["at"]), RewardSpec.from_settings(item["reward"]))
                for item in merged.get("milestones") or []
            ),
        )

    @cached_property
    def offer(self) -> FriendOffer:
        offer = self.data["friend_offer"]
        return FriendOffer(
            reward=RewardSpec.from_settings(offer),
            expiry_days=int(offer.get("expiry_days") or 14),
            min_order=Decimal(str(offer.get("min_order") or 0)),
        )

    @property
    def friend_offer(self) -> RewardSpec:
        return self.offer.reward

    @property
    def hold_days(self) -> int:
        return int(self.data["hold_days"] or 0)

    @cached_property
    def caps(self) -> Caps:
        caps = self.data["caps"]
        return Caps(
            rewards_per_advocate_30d=int(caps.get("rewards_per_advocate_30d") or 0),
            claims_per_code_per_day=int(caps.get("claims_per_code_per_day") or 0),
        )

    @property
    def languages(self) -> list[str]:
        return list(self.data["languages"])

    @property
    def default_locale(self) -> str:
        return self.data["default_locale"]

    @property
    def storefront_url(self) -> str:
        return self.data["storefront_url"] or ""

    @property
    def storefront_url_template(self) -> str:
        return self.data["storefront_url_template"] or ""

    @property
    def storefront_origins(self) -> list[str]:
        return [o for o in self.data["storefront_origins"] or [] if o]

    @cached_property
    def email(self) -> EmailSettings:
        email = self.data["email"]
        return EmailSettings(
            sender=email.get("sender") or "",
            reply_to=email.get("reply_to") or "",
            subjects=dict(email.get("subjects") or {}),
            intros=dict(email.get("intros") or {}),
        )

    @cached_property
    def messages(self) -> MessageSettings:
        messages = self.data.get("messages") or {}
        updates = messages.get("updates") or {}
        return MessageSettings(
            friend_reminder_days=int(messages.get("friend_reminder_days") or 3),
            counted=bool(updates.get("counted", True)),
            held=bool(updates.get("held", True)),
            progress=bool(updates.get("progress", True)),
        )

    @cached_property
    def widget(self) -> WidgetTexts:
        widget = self.data["widget"] or {}
        return WidgetTexts(
            title=dict(widget.get("title") or {}),
            texts=dict(widget.get("texts") or {}),
            hashtags=tuple(str(tag) for tag in widget.get("hashtags") or () if tag),
        )

    @cached_property
    def fraud(self) -> FraudSettings:
        fraud = self.data["fraud"]
        minimum = fraud.get("min_seconds_click_to_order")
        return FraudSettings(
            rules=dict(fraud.get("rules") or {}),
            coupon_site_domains=tuple(
                str(d).strip().lower() for d in fraud.get("coupon_site_domains") or () if str(d).strip()
            ),
            min_seconds_click_to_order=float(minimum) if minimum else None,
        )

    @cached_property
    def ab_test(self) -> ABTest:
        return ab_test_of(self.data)


def ab_test_of(settings: dict) -> ABTest:
    """The A/B test of a settings document (also one being edited, not yet a Program)."""
    test = settings.get("ab_test") or {}
    return ABTest(
        enabled=bool(test.get("enabled")),
        holdout_percent=float(test.get("holdout_percent") or 0),
        variants=tuple(
            Variant(
                name=str(v.get("name")),
                weight=float(v.get("weight") or 0),
                referrer=v.get("referrer"),
                friend=v.get("friend"),
                friend_offer=v.get("friend_offer"),
            )
            for v in test.get("variants") or []
        ),
    )


def load_program(session: Session, tenant_id: int) -> Program:
    row = session.scalar(select(ProgramSettings).where(ProgramSettings.tenant_id == tenant_id))
    return Program(deep_merge(DEFAULTS, row.data if row else {}))
