"""Money and percentages as each language writes them (must-show 4), exactly as CLDR has them.

U+00A0 (no-break space) is spelled out where the locale puts one, so a line never breaks inside "10 zł".
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from plugin.i18n import money, number, percent
from plugin.program.settings import RewardSpec

NBSP = "\u00a0"


@pytest.mark.parametrize(
    "locale, currency, amount, expected",
    [
        # the four shops' own currencies
        ("en", "USD", "10", "$10"),
        ("pl", "PLN", "10", "10\u00a0zł"),
        ("ru", "RUB", "10", "10\u00a0₽"),
        ("lv", "EUR", "10", "10\u00a0€"),
        # other amounts keep the currency's digits; large ones are grouped the locale's way
        ("en", "USD", "10.5", "$10.50"),
        ("pl", "PLN", "10.50", "10,50\u00a0zł"),
        ("ru", "RUB", "1234.5", "1\u00a0234,50\u00a0₽"),
        ("lv", "EUR", "2500", "2\u00a0500\u00a0€"),
        ("en", "USD", "1234.56", "$1,234.56"),
        ("en", "USD", "10.00", "$10"),
        ("en", "USD", "0.99", "$0.99"),
        # a reader whose language is not the shop's
        ("en", "EUR", "10", "€10"),
        ("ru", "USD", "10", "10\u00a0$"),
        ("pl", "USD", "10", "10\u00a0USD"),
        ("en", "PLN", "10", "PLN\u00a010"),  # CLDR currency spacing: letters never touch digits
        ("en", "JPY", "1234", "¥1,234"),
    ],
)
def test_money_as_each_locale_writes_it(locale, currency, amount, expected):
    assert money(Decimal(amount), currency, locale) == expected


@pytest.mark.parametrize(
    "locale, value, expected",
    [
        ("en", "10", "10%"),
        ("pl", "10", "10%"),
        ("lv", "10", "10%"),
        ("ru", "10", "10\u00a0%"),
        ("en", "12.5", "12.5%"),
        ("pl", "12.50", "12,5%"),
        ("ru", "7.25", "7,25\u00a0%"),
        ("en", "100", "100%"),
    ],
)
def test_percentages_as_each_locale_writes_them(locale, value, expected):
    assert percent(Decimal(value), locale) == expected


def test_counts_are_grouped_the_locales_way():
    assert [number(12500, locale) for locale in ("en", "ru", "pl", "lv")] == [
        "12,500",
        "12\u00a0500",
        "12\u00a0500",
        "12\u00a0500",
    ]


@pytest.mark.parametrize(
    "spec, currency, locale, expected",
    [
        (RewardSpec("FIXED", Decimal("10")), "USD", "en", "$10"),
        (RewardSpec("FIXED", Decimal("15.00")), "PLN", "pl", "15\u00a0zł"),
        (RewardSpec("PERCENTAGE", Decimal("10")), "USD", "en", "10%"),
        (RewardSpec("PERCENTAGE", Decimal("10")), "RUB", "ru", "10\u00a0%"),
    ],
)
def test_a_reward_describes_itself_in_the_readers_language(spec, currency, locale, expected):
    assert spec.describe(currency, locale) == expected
