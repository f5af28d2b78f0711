"""The shipped lists and the advocate-facing wording, without a shop around them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plugin.config import Config
from plugin.fraud import lists
from plugin.fraud.context import referrer_host
from plugin.fraud.explain import advocate_message
from plugin.fraud.rules import RULE_DEFAULTS, RULES, configured_actions
from plugin.i18n import catalog, t
from plugin.referrals.models import Referral


def test_disposable_list_is_a_real_list_without_mainstream_providers():
    domains = lists.disposable_domains()
    assert len(domains) >= 300
    assert {"mailinator.com", "guerrillamail.com", "yopmail.com", "10minutemail.com", "trashmail.com"} <= domains
    mainstream = {
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
        "proton.me",
        "gmx.de",
        "mail.ru",
        "yandex.ru",
        "wp.pl",
        "onet.pl",
        "inbox.lv",
        "example.com",
    }
    assert not domains & mainstream
    assert all(d == d.strip().lower() and "." in d and " " not in d for d in domains)


def test_lists_can_be_replaced_by_the_operator(tmp_path, monkeypatch):
    custom = tmp_path / "mine.txt"
    custom.write_text("# ours\nthrowaway.test  # a comment\n\n")
    monkeypatch.setenv("DISPOSABLE_DOMAINS_FILE", str(custom))
    assert Config.from_env().disposable_domains_file == str(custom)
    assert lists.disposable_domains(str(custom)) == frozenset({"throwaway.test"})
    assert "mailinator.com" in lists.disposable_domains()


@pytest.mark.parametrize(
    "domain, listed",
    [
        ("mailinator.com", True),
        ("eu.mailinator.com", True),
        ("MAILINATOR.COM", True),
        ("notmailinator.co", False),
        ("gmail.com", False),
        ("", False),
        (None, False),
    ],
)
def test_domain_matching_includes_subdomains_only(domain, listed):
    assert lists.domain_listed(domain, lists.disposable_domains()) is listed


@pytest.mark.parametrize(
    "stored, host",
    [
        ("https://www.RetailMeNot.com/view/shop?x=1", "www.retailmenot.com"),
        ("slickdeals.net", "slickdeals.net"),
        ("slickdeals.net/f/123", "slickdeals.net"),
        ("", None),
        (None, None),
    ],
)
def test_referrer_host_accepts_urls_and_bare_hosts(stored, host):
    assert referrer_host(stored) == host


def test_unknown_or_invalid_configured_actions_are_ignored():
    actions = configured_actions({"same_household": "block", "no_such_rule": "block", "velocity": "explode"})
    assert actions["same_household"] == "block"
    assert actions["velocity"] == RULE_DEFAULTS["velocity"]
    assert "no_such_rule" not in actions
    assert set(RULE_DEFAULTS) == set(RULES)


def _referral(state, decision="allow", reasons=(), hold_until=None):
    return Referral(state=state, decision=decision, reasons=list(reasons), hold_until=hold_until)


def test_advocate_messages_are_soft_and_never_reveal_flags():
    flagged = _referral(
        "issued",
        "flag",
        [{"rule": "same_household", "action": "flag", "reason": "x", "advocate_reason": "Under review: same address"}],
    )
    assert advocate_message(flagged) == "Rewarded: your reward code was sent to you by e-mail."
    held = _referral(
        "held",
        "hold",
        [
            {
                "rule": "disposable_email",
                "action": "hold",
                "reason": "merchant words",
                "advocate_reason": "Under review: e-mail",
            }
        ],
    )
    assert advocate_message(held) == "Under review: we could not confirm your friend's e-mail address."
    blocked = _referral(
        "rejected",
        "block",
        [
            {"rule": "same_household", "action": "flag", "reason": "m", "advocate_reason": "a"},
            {"rule": "min_order_value", "action": "block", "reason": "m", "advocate_reason": "a"},
        ],
    )
    assert advocate_message(blocked) == "Not counted: your friend's order was below the minimum order value."
    window = _referral("held", "allow", hold_until=datetime(2027, 1, 15, tzinfo=UTC))
    assert advocate_message(window) == "Confirmed: your reward will be released on 2027-01-15, after the return period."
    assert advocate_message(_referral("revoked")) == "Not counted: your friend's order was cancelled or refunded."
    assert advocate_message(_referral("approved")) == "Confirmed: your reward is on its way."
    for message in map(advocate_message, (flagged, held, blocked, window)):
        assert "merchant words" not in message


def test_every_rule_has_a_catalogued_advocate_reason():
    english = catalog("en")
    for rule in RULES:
        assert f"fraud.advocate.{rule}" in english


def test_advocate_messages_follow_the_portal_language():
    revoked = _referral("revoked")
    assert advocate_message(revoked, "pl") != advocate_message(revoked, "en")
    held = _referral(
        "held",
        "hold",
        [{"rule": "coupon_site_referrer", "action": "hold", "reason": "m", "advocate_reason": "English fallback"}],
    )
    for locale in ("ru", "pl", "lv"):
        key = "fraud.advocate.coupon_site_referrer"
        assert advocate_message(held, locale) == t(locale, key) != t("en", key)
