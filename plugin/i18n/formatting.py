"""Money, percentages and counts the way each language writes them (CLDR data through Babel).

`money(Decimal("10"), "USD", "en")` is "$10", `money(Decimal("10"), "PLN", "pl")` is "10 zł" and
`percent(Decimal("10"), "ru")` is "10 %" (the spaces are U+00A0, so a line never breaks inside an
amount). Whole amounts drop the ".00" a voucher of "$10" never needs; other amounts keep the
currency's digits ("$10.50", "¥1,235").
"""

from __future__ import annotations

import copy
import unicodedata
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.numbers import NumberPattern, format_currency, format_decimal, format_percent, get_currency_symbol

NBSP = "\u00a0"


@cache
def _locale(locale: str) -> Locale:
    return Locale.parse(locale)


@cache
def _whole_currency_pattern(locale: str) -> NumberPattern:
    """The locale's standard currency pattern without fraction digits ("¤#,##0.00" → "¤#,##0")."""
    pattern = copy.copy(_locale(locale).currency_formats["standard"])
    pattern.frac_prec = (0, 0)
    return pattern


def _is_letter_like(char: str) -> bool:
    # CLDR currencySpacing: currencyMatch [[:^S:]&[:^Z:]] — neither a symbol nor a separator.
    return unicodedata.category(char)[0] not in "SZ"


def _currency_spacing(text: str, symbol: str) -> str:
    """CLDR's currencySpacing rule, which Babel's patterns leave out: a currency written with letters
    ("PLN", "USD") gets a no-break space where it touches a digit ("PLN 10", not "PLN10")."""
    start = text.find(symbol)
    if not symbol or start < 0:
        return text
    end = start + len(symbol)
    if end < len(text) and text[end].isdigit() and _is_letter_like(symbol[-1]):
        text = text[:end] + NBSP + text[end:]
    if start > 0 and text[start - 1].isdigit() and _is_letter_like(symbol[0]):
        text = text[:start] + NBSP + text[start:]
    return text


def money(amount: Decimal, currency: str, locale: str) -> str:
    """An amount in `currency` as people reading `locale` write it: "$10", "10 zł", "10,50 €"."""
    amount = Decimal(amount)
    if amount == amount.to_integral_value():
        text = format_currency(
            amount, currency, format=_whole_currency_pattern(locale), locale=_locale(locale), currency_digits=False
        )
    else:
        text = format_currency(amount, currency, locale=_locale(locale))
    return _currency_spacing(text, get_currency_symbol(currency, locale=_locale(locale)))


def percent(value: Decimal, locale: str) -> str:
    """`value` in percent points, as rewards store it: percent(Decimal("10"), "en") == "10%"."""
    fraction = Decimal(value) / 100
    if fraction != fraction.to_integral_value():
        fraction = fraction.normalize()  # "12.50" points → 12.5%, not 12.50%
    return format_percent(fraction, locale=_locale(locale), decimal_quantization=False)


def number(value: int | Decimal, locale: str) -> str:
    """A count as the locale groups digits: 1,000 in English, 1 000 in Russian."""
    return format_decimal(value, locale=_locale(locale))


def plain_amount(amount: Decimal) -> str:
    """An amount for the merchant's notes, without the storage's padding: 29.9900 → "29.99", 30.0000 → "30"."""
    return f"{amount.normalize():f}" if amount.is_finite() else str(amount)
