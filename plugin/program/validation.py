"""Checking a merchant's settings before they are stored.

`validate_settings(candidate, channels=...)` takes a complete settings document
(DEFAULTS merged with the merchant's edits) and returns it normalised (money as
decimal strings, days as ints), or raises `SettingsInvalid` whose `fields` maps
a dotted path (`channels.default-channel.referrer.value`) to a message a person
can act on. Nothing is stored unless every field is valid.
"""

from __future__ import annotations

import re
import string
import unicodedata
from decimal import Decimal, InvalidOperation
from email.utils import parseaddr
from urllib.parse import urlsplit

from plugin.fraud.rules import ACTIONS, RULE_DEFAULTS
from plugin.i18n import LOCALES
from plugin.program.settings import (
    COMMISSION,
    DEFAULTS,
    FREE_SHIPPING,
    KINDS_BY_SIDE,
    PERCENTAGE,
    TRIGGER_STATUSES,
)

REWARD_TYPES = KINDS_BY_SIDE["friend_offer"]  # the A/B variants and the friend offer: order discounts
MAX_TIERS = MAX_MILESTONES = 10
MAX_FRIEND_COUNT = 10000
EMAIL_KINDS = ("invite", "reward.referrer", "reward.friend", "offer")
EMAIL_PLACEHOLDERS = {
    "invite": {"shop", "first_name", "friend_offer", "referrer_reward"},
    "reward.referrer": {"shop", "value", "first_name", "advocate"},
    "reward.friend": {"shop", "value", "first_name", "advocate"},
    "offer": {"shop", "value", "first_name", "advocate"},
}
URL_TEMPLATE_PLACEHOLDERS = {"code", "referral_code"}
VARIANT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_TEXT = 500
MAX_HASHTAGS, MAX_HASHTAG_LENGTH = 3, 50
HASHTAG = re.compile(r"\w+")  # Unicode letters and digits, and _: what X, Facebook and Telegram link as one tag
MAX_REMINDER_DAYS = 30  # plugin.referrals.reminders looks this far ahead at most
MAX_SUBJECT = 200

# ISO 4217 minor units where they are not 2 (Saleor checks FIXED values against the currency's precision).
ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "ISK",
    "JPY",
    "KMF",
    "KRW",
    "PYG",
    "RWF",
    "UGX",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}
THREE_DECIMAL = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}


def currency_decimals(currency: str | None) -> int:
    code = (currency or "").upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


class SettingsInvalid(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class _Checker:
    def __init__(self, channels: dict[str, str] | None):
        self.channels = channels  # slug -> currency code; None when Saleor could not be asked
        self.errors: dict[str, str] = {}

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    # -- primitives ----------------------------------------------------------------------------

    def boolean(self, value, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return False
        return value

    def integer(self, value, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str, float)):
            self.fail(path, f"must be a whole number from {low} to {high}")
            return low
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if (
            number is None
            or not number.is_finite()
            or number != number.to_integral_value()
            or not low <= number <= high
        ):
            self.fail(path, f"must be a whole number from {low} to {high}")
            return low
        return int(number)

    def decimal(
        self, value, path: str, *, positive: bool, maximum: Decimal | None = None, places: int = 4, unit: str = ""
    ) -> str:
        bound = "> 0" if positive else ">= 0"
        message = f"must be a number {bound}" + (f" and at most {maximum:f}" if maximum is not None else "")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.fail(path, message)
            return "0"
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.fail(path, message)
            return "0"
        if (
            not number.is_finite()
            or (number <= 0 if positive else number < 0)
            or (maximum is not None and number > maximum)
        ):
            self.fail(path, message)
            return "0"
        if -number.normalize().as_tuple().exponent > places:
            self.fail(path, f"has too many decimal places (at most {places}{' for ' + unit if unit else ''})")
            return "0"
        return f"{number.normalize():f}"

    def text(self, value, path: str, *, max_length: int = MAX_TEXT, single_line: bool = False) -> str:
        if not isinstance(value, str):
            self.fail(path, "must be text")
            return ""
        value = value.strip()
        if len(value) > max_length:
            self.fail(path, f"must be at most {max_length} characters")
        if single_line and ("\n" in value or "\r" in value):
            self.fail(path, "must be a single line")
        return value

    def mapping(self, value, path: str) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return {}
        return value

    def http_url(self, value, path: str, *, allow_empty: bool = True) -> str:
        url = self.text(value, path, max_length=2000, single_line=True)
        if not url and allow_empty:
            return ""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
            self.fail(path, "must be an absolute http:// or https:// URL")
        return url

    def placeholders(self, template: str, allowed: set[str], path: str) -> None:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        except ValueError:
            self.fail(path, "has an unbalanced { or }; write {{ and }} for literal braces")
            return
        unknown = sorted(n for n in names if n not in allowed)
        if unknown:
            self.fail(
                path, f"unknown placeholder {{{unknown[0]}}}; use " + ", ".join(f"{{{a}}}" for a in sorted(allowed))
            )

    # -- sections --------------------------------------------------------------------------------

    def reward(self, value, path: str, currency: str | None, *, kinds=REWARD_TYPES) -> dict:
        """One reward: {"type", "value"} ({"type": "FREE_SHIPPING"} alone; COMMISSION also "cap")."""
        data = self.mapping(value, path)
        out = {}
        kind = data.get("type")
        allowed = (
            ("type", "value", "cap")
            if kind == COMMISSION
            else ("type",)
            if kind == FREE_SHIPPING
            else ("type", "value")
        )
        for key in data:
            if key not in allowed:
                self.fail(
                    f"{path}.{key}",
                    "is not a setting of this kind of reward" if key in ("value", "cap") else "is not a setting",
                )
        if kind not in kinds:
            self.fail(f"{path}.type", "must be one of " + ", ".join(kinds))
            return out
        out["type"] = kind
        money_places = currency_decimals(currency) if currency else 4
        if kind in (PERCENTAGE, COMMISSION):
            out["value"] = self.decimal(
                data.get("value"), f"{path}.value", positive=True, maximum=Decimal(100), places=2
            )
        elif kind != FREE_SHIPPING:
            out["value"] = self.decimal(
                data.get("value"), f"{path}.value", positive=True, places=money_places, unit=currency or ""
            )
        if kind == COMMISSION:
            out["cap"] = self.decimal(
                data.get("cap"), f"{path}.cap", positive=True, places=money_places, unit=currency or ""
            )
        return out

    def ladder(self, value, path: str, currency: str | None, *, key: str, low: int, kinds) -> list[dict]:
        """Tiers (key "from") or milestones (key "at"): friend counts strictly increasing."""
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return []
        limit = MAX_TIERS if key == "from" else MAX_MILESTONES
        if len(value) > limit:
            self.fail(path, f"at most {limit} entries")
        out, previous = [], 0
        for i, item in enumerate(value[:limit]):
            item_path = f"{path}.{i}"
            data = self.mapping(item, item_path)
            for name in data:
                if name not in (key, "reward"):
                    self.fail(f"{item_path}.{name}", "is not a setting")
            count = self.integer(data.get(key), f"{item_path}.{key}", low, MAX_FRIEND_COUNT)
            if f"{item_path}.{key}" not in self.errors and count <= previous:
                self.fail(f"{item_path}.{key}", "must be larger than the one before (counts strictly increase)")
            previous = max(previous, count)
            out.append(
                {key: count, "reward": self.reward(data.get("reward"), f"{item_path}.reward", currency, kinds=kinds)}
            )
        return out

    def rewards_block(self, value, path: str, currency: str | None, *, partial: bool) -> dict:
        data = self.mapping(value, path)
        out: dict = {}
        for key in data:
            if key not in ("referrer", "friend", "min_order", "expiry_days", "tiers", "milestones"):
                self.fail(f"{path}.{key}", "is not a setting")
        for side in ("referrer", "friend"):
            if side in data or not partial:
                out[side] = self.reward(data.get(side), f"{path}.{side}", currency, kinds=KINDS_BY_SIDE[side])
        # The first tier starts at the 2nd friend: the referrer reward above is the one for friend 1.
        if "tiers" in data or not partial:
            out["tiers"] = self.ladder(
                data.get("tiers", []), f"{path}.tiers", currency, key="from", low=2, kinds=KINDS_BY_SIDE["referrer"]
            )
        if "milestones" in data or not partial:
            out["milestones"] = self.ladder(
                data.get("milestones", []),
                f"{path}.milestones",
                currency,
                key="at",
                low=1,
                kinds=KINDS_BY_SIDE["milestone"],
            )
        if "min_order" in data or not partial:
            places = currency_decimals(currency) if currency else 4
            out["min_order"] = self.decimal(
                data.get("min_order", "0"), f"{path}.min_order", positive=False, places=places, unit=currency or ""
            )
        if "expiry_days" in data or not partial:
            out["expiry_days"] = self.integer(data.get("expiry_days"), f"{path}.expiry_days", 1, 3650)
        return out

    def channels_block(self, value) -> dict:
        data = self.mapping(value, "channels")
        out = {}
        for slug, block in data.items():
            path = f"channels.{slug}"
            if self.channels is not None and slug not in self.channels:
                self.fail(path, "is not a channel of this shop")
                continue
            currency = self.channels.get(slug) if self.channels else None
            out[slug] = self.rewards_block(block, path, currency, partial=True)
        return out

    def friend_offer(self, value) -> dict:
        data = self.mapping(value, "friend_offer")
        for key in data:
            if key not in ("type", "value", "expiry_days"):
                self.fail(f"friend_offer.{key}", "is not a setting")
        out = self.reward(
            {k: v for k, v in data.items() if k in ("type", "value")},
            "friend_offer",
            None,
            kinds=KINDS_BY_SIDE["friend_offer"],
        )
        out["expiry_days"] = self.integer(data.get("expiry_days"), "friend_offer.expiry_days", 1, 365)
        return out

    def caps(self, value) -> dict:
        data = self.mapping(value, "caps")
        for key in data:
            if key not in DEFAULTS["caps"]:
                self.fail(f"caps.{key}", "is not a setting")
        return {
            "rewards_per_advocate_30d": self.integer(
                data.get("rewards_per_advocate_30d"), "caps.rewards_per_advocate_30d", 1, 1000
            ),
            "claims_per_code_per_day": self.integer(
                data.get("claims_per_code_per_day"), "caps.claims_per_code_per_day", 1, 10000
            ),
        }

    def storefront_template(self, value) -> str:
        template = self.text(value, "storefront_url_template", max_length=2000, single_line=True)
        if not template:
            return ""
        self.placeholders(template, URL_TEMPLATE_PLACEHOLDERS, "storefront_url_template")
        if "{code}" not in template:
            self.fail("storefront_url_template", "must contain {code}, where the coupon code goes")
        example = template.replace("{code}", "CODE").replace("{referral_code}", "REF")
        self.http_url(example, "storefront_url_template", allow_empty=False)
        return template

    def origins(self, value) -> list[str]:
        if not isinstance(value, list):
            self.fail("storefront_origins", "must be a list of origins like https://shop.example.com")
            return []
        out = []
        for i, item in enumerate(value):
            path = f"storefront_origins.{i}"
            origin = self.text(item, path, max_length=300, single_line=True).rstrip("/")
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
                self.fail(path, "must be an origin like https://shop.example.com (scheme and host, no path)")
                continue
            if origin.lower() not in out:
                out.append(origin.lower())
        return out

    def address(self, value, path: str) -> str:
        text = self.text(value, path, max_length=320, single_line=True)
        if not text:
            return ""
        _name, address = parseaddr(text)
        if "@" not in address or " " in address or address.startswith("@") or address.endswith("@"):
            self.fail(path, "must be an e-mail address, optionally with a name: Shop <shop@example.com>")
        return text

    def email(self, value) -> dict:
        data = self.mapping(value, "email")
        for key in data:
            if key not in DEFAULTS["email"]:
                self.fail(f"email.{key}", "is not a setting")
        out = {
            "sender": self.address(data.get("sender", ""), "email.sender"),
            "reply_to": self.address(data.get("reply_to", ""), "email.reply_to"),
            "subjects": {},
            "intros": {},
        }
        for section, limit in (("subjects", MAX_SUBJECT), ("intros", 1000)):
            texts = self.mapping(data.get(section, {}), f"email.{section}")
            for kind, text in texts.items():
                path = f"email.{section}.{kind}"
                if kind not in EMAIL_KINDS:
                    self.fail(path, "is not an e-mail of this app (" + ", ".join(EMAIL_KINDS) + ")")
                    continue
                cleaned = self.text(text, path, max_length=limit, single_line=section == "subjects")
                if cleaned:
                    self.placeholders(cleaned, EMAIL_PLACEHOLDERS[kind], path)
                    out[section][kind] = cleaned
        return out

    def messages(self, value) -> dict:
        data = self.mapping(value, "messages")
        for key in data:
            if key not in DEFAULTS["messages"]:
                self.fail(f"messages.{key}", "is not a setting")
        updates = self.mapping(data.get("updates", {}), "messages.updates")
        for key in updates:
            if key not in DEFAULTS["messages"]["updates"]:
                self.fail(f"messages.updates.{key}", "is not a setting (counted, held, progress)")
        return {
            "friend_reminder_days": self.integer(
                data.get("friend_reminder_days", DEFAULTS["messages"]["friend_reminder_days"]),
                "messages.friend_reminder_days",
                1,
                MAX_REMINDER_DAYS,
            ),
            "updates": {
                key: self.boolean(updates.get(key, default), f"messages.updates.{key}")
                for key, default in DEFAULTS["messages"]["updates"].items()
            },
        }

    def texts_by_locale(self, value, path: str) -> dict:
        data = self.mapping(value, path)
        out = {}
        for key, text in data.items():
            if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", key):
                self.fail(f"{path}.{key}", "is not a valid key")
                continue
            if isinstance(text, dict):  # per-locale texts of one key
                nested = {}
                for locale, item in text.items():
                    if locale not in LOCALES:
                        self.fail(f"{path}.{key}.{locale}", "is not a supported language (" + ", ".join(LOCALES) + ")")
                        continue
                    cleaned = self.text(item, f"{path}.{key}.{locale}")
                    if cleaned:
                        nested[locale] = cleaned
                if nested:
                    out[key] = nested
                continue
            cleaned = self.text(text, f"{path}.{key}")
            if cleaned:
                out[key] = cleaned
        return out

    def widget(self, value) -> dict:
        data = self.mapping(value, "widget")
        out = {}
        for key, item in data.items():
            if key == "title":
                title = self.mapping(item, "widget.title")
                out["title"] = {}
                for locale, text in title.items():
                    if locale not in LOCALES:
                        self.fail(f"widget.title.{locale}", "is not a supported language (" + ", ".join(LOCALES) + ")")
                        continue
                    cleaned = self.text(text, f"widget.title.{locale}", max_length=120, single_line=True)
                    if cleaned:
                        out["title"][locale] = cleaned
            elif key == "texts":
                out["texts"] = self.texts_by_locale(item, "widget.texts")
            elif key == "hashtags":
                out["hashtags"] = self.hashtags(item, "widget.hashtags")
            else:
                out[key] = item  # other widget options belong to the widget's own checks
        out.setdefault("title", {})
        out.setdefault("texts", {})
        out.setdefault("hashtags", [])
        return out

    def hashtags(self, value, path: str) -> list[str]:
        """Up to MAX_HASHTAGS tags, each stored without its optional leading "#". Empty entries (a form's
        unused field) are dropped; errors name the entry's own index."""
        if not isinstance(value, list):
            self.fail(path, f"must be a list of at most {MAX_HASHTAGS} hashtags")
            return []
        if len([item for item in value if not isinstance(item, str) or item.strip()]) > MAX_HASHTAGS:
            self.fail(path, f"at most {MAX_HASHTAGS} hashtags")
        out: list[str] = []
        seen: set[str] = set()
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{path}.{i}", "must be text")
                continue
            tag = unicodedata.normalize("NFC", item.strip())
            if not tag:
                continue
            tag = tag.removeprefix("#")
            if not tag:
                self.fail(f"{path}.{i}", "needs letters or digits after #")
            elif len(tag) > MAX_HASHTAG_LENGTH:
                self.fail(f"{path}.{i}", f"must be at most {MAX_HASHTAG_LENGTH} characters")
            elif not HASHTAG.fullmatch(tag):
                self.fail(f"{path}.{i}", "may hold only letters, digits and _ (no spaces, # or punctuation)")
            elif not any(ch.isalpha() or ch == "_" for ch in tag):
                self.fail(f"{path}.{i}", "needs at least one letter: a hashtag of digits only is not linked")
            elif tag.casefold() in seen:
                self.fail(f"{path}.{i}", "is already in the list")
            else:
                seen.add(tag.casefold())
                out.append(tag)
        return out

    def languages(self, value, default_locale) -> tuple[list[str], str]:
        if not isinstance(value, list) or not value:
            self.fail("languages", "choose at least one language")
            return list(LOCALES), "en"
        out = []
        for i, code in enumerate(value):
            if code not in LOCALES:
                self.fail(f"languages.{i}", "is not a supported language (" + ", ".join(LOCALES) + ")")
            elif code not in out:
                out.append(code)
        if default_locale not in out:
            self.fail("default_locale", "must be one of the chosen languages")
        return out, default_locale if isinstance(default_locale, str) else "en"

    def fraud(self, value) -> dict:
        data = self.mapping(value, "fraud")
        out = {"rules": {}, "coupon_site_domains": []}
        for key in data:
            if key not in ("rules", "coupon_site_domains"):
                self.fail(f"fraud.{key}", "is not a setting")
        rules = self.mapping(data.get("rules", {}), "fraud.rules")
        for rule, action in rules.items():
            if rule not in RULE_DEFAULTS:
                self.fail(f"fraud.rules.{rule}", "is not a fraud rule of this app")
            elif action not in ACTIONS:
                self.fail(f"fraud.rules.{rule}", "must be one of " + ", ".join(ACTIONS))
            else:
                out["rules"][rule] = action
        domains = data.get("coupon_site_domains", [])
        if not isinstance(domains, list):
            self.fail("fraud.coupon_site_domains", "must be a list of domains")
            domains = []
        for i, domain in enumerate(domains):
            cleaned = self.text(domain, f"fraud.coupon_site_domains.{i}", max_length=253, single_line=True).lower()
            if not HOSTNAME.match(cleaned):
                self.fail(f"fraud.coupon_site_domains.{i}", "must be a domain like coupons.example.com")
            elif cleaned not in out["coupon_site_domains"]:
                out["coupon_site_domains"].append(cleaned)
        return out

    def ab_test(self, value) -> dict:
        data = self.mapping(value, "ab_test")
        for key in data:
            if key not in ("enabled", "variants", "holdout_percent"):
                self.fail(f"ab_test.{key}", "is not a setting")
        enabled = self.boolean(data.get("enabled", False), "ab_test.enabled")
        holdout_text = self.decimal(
            data.get("holdout_percent", 0), "ab_test.holdout_percent", positive=False, maximum=Decimal(50), places=2
        )
        holdout = (
            int(Decimal(holdout_text)) if Decimal(holdout_text) == int(Decimal(holdout_text)) else float(holdout_text)
        )
        variants_in = data.get("variants", [])
        if not isinstance(variants_in, list):
            self.fail("ab_test.variants", "must be a list of 2 to 4 variants")
            variants_in = []
        if (enabled or variants_in) and not 2 <= len(variants_in) <= 4:
            self.fail("ab_test.variants", "an A/B test needs 2 to 4 variants (the first is the control)")
        variants, names = [], set()
        for i, item in enumerate(variants_in):
            path = f"ab_test.variants.{i}"
            variant = self.mapping(item, path)
            for key in variant:
                if key not in ("name", "weight", "referrer", "friend", "friend_offer"):
                    self.fail(f"{path}.{key}", "is not a setting")
            name = variant.get("name")
            if not isinstance(name, str) or not VARIANT_NAME.match(name) or name == "holdout":
                self.fail(f"{path}.name", "must be 1-32 letters, digits, - or _ (and not 'holdout')")
            elif name in names:
                self.fail(f"{path}.name", "is used by another variant")
            names.add(name)
            out = {
                "name": name,
                "weight": self.decimal(
                    variant.get("weight"), f"{path}.weight", positive=True, maximum=Decimal(1000), places=2
                ),
            }
            for side in ("referrer", "friend", "friend_offer"):
                if variant.get(side) not in (None, {}):
                    out[side] = self.reward(variant[side], f"{path}.{side}", None)
            variants.append(out)
        return {"enabled": enabled, "variants": variants, "holdout_percent": holdout}


def validate_settings(candidate: dict, *, channels: dict[str, str] | None = None) -> dict:
    """The normalised document, or SettingsInvalid listing every problem at once."""
    check = _Checker(channels)
    if not isinstance(candidate, dict):
        raise SettingsInvalid({"": "settings must be a JSON object"})
    for key in candidate:
        if key not in DEFAULTS:
            check.fail(key, "is not a setting")
    out: dict = {}
    out["enabled"] = check.boolean(candidate.get("enabled"), "enabled")
    if candidate.get("trigger_status") not in TRIGGER_STATUSES:
        check.fail("trigger_status", "must be one of " + ", ".join(TRIGGER_STATUSES))
    out["trigger_status"] = candidate.get("trigger_status")
    out["default_rewards"] = check.rewards_block(
        candidate.get("default_rewards"), "default_rewards", None, partial=False
    )
    out["channels"] = check.channels_block(candidate.get("channels", {}))
    out["friend_offer"] = check.friend_offer(candidate.get("friend_offer"))
    out["hold_days"] = check.integer(candidate.get("hold_days"), "hold_days", 0, 365)
    out["caps"] = check.caps(candidate.get("caps"))
    out["storefront_url"] = check.http_url(candidate.get("storefront_url", ""), "storefront_url")
    out["storefront_url_template"] = check.storefront_template(candidate.get("storefront_url_template", ""))
    out["storefront_origins"] = check.origins(candidate.get("storefront_origins", []))
    out["email"] = check.email(candidate.get("email"))
    out["messages"] = check.messages(candidate.get("messages", {}))
    code_days = out["friend_offer"].get("expiry_days")
    if isinstance(code_days, int) and out["messages"]["friend_reminder_days"] >= code_days:
        # A code that lasts fewer days than that would be "reminded" of the moment it is sent.
        check.fail(
            "messages.friend_reminder_days",
            f"must be fewer than the days the friend's code lasts (friend_offer.expiry_days: {code_days})",
        )
    out["widget"] = check.widget(candidate.get("widget", {}))
    out["languages"], out["default_locale"] = check.languages(
        candidate.get("languages"), candidate.get("default_locale")
    )
    out["fraud"] = check.fraud(candidate.get("fraud", {}))
    out["ab_test"] = check.ab_test(candidate.get("ab_test", {}))
    # Keys other engineers add to DEFAULTS later pass through untouched until they get checks here.
    for key in DEFAULTS:
        if key not in out and key in candidate:
            out[key] = candidate[key]
    if check.errors:
        raise SettingsInvalid(check.errors)
    return out
