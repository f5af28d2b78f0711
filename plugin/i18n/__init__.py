"""Texts people read, in their language: the widget, pages and e-mails (en, ru, pl, lv).

* `t(locale, "email.code")` — one message; `t(locale, "email.expires", date=...)` fills `{date}`.
* `tn(locale, "portal.stats.joined", n)` — a message with plural forms, chosen by the locale's
  plural rule ("1 друг", "2 друга", "5 друзей"); `{n}` is the count written the locale's way.
* `money(amount, currency, locale)`, `percent(value, locale)`, `number(n, locale)` — CLDR formats.

Message ids are keys ("email.invite.subject"); English is a catalog like the others
(`plugin/i18n/<locale>.po`, see `catalogs.py` and README.md there). A message missing in a language
falls back to English, and one missing everywhere shows its key, so a gap never shows a blank;
tests/i18n fails on any gap, missing plural form or placeholder mismatch.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from plugin.i18n.catalogs import DEFAULT_LOCALE, LOCALES, catalog, translations
from plugin.i18n.formatting import money, number, percent

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "catalog",
    "messages",
    "money",
    "number",
    "percent",
    "pick_locale",
    "t",
    "tn",
    "tn_html",
]


def pick_locale(*candidates: str | None, allowed=LOCALES, default: str = DEFAULT_LOCALE) -> str:
    """First supported locale among candidates ('pl-PL', 'PL', 'pl' all mean Polish)."""
    for value in candidates:
        if not value:
            continue
        short = str(value).replace("_", "-").split("-")[0].lower()
        if short in allowed and short in LOCALES:
            return short
    return default if default in LOCALES else DEFAULT_LOCALE


def t(locale: str, key: str, **params) -> str:
    """The message `key` in `locale` with `{placeholders}` filled from params (the key if unknown)."""
    text = translations(locale).gettext(key)
    return text.format(**params) if params else text


def _plural_text(locale: str, key: str, n: int) -> str:
    text = translations(locale).ngettext(key, key, n)
    # Babel compiles an empty plural form as the msgid (our key): read English rather than the key.
    return text if text != key else translations(DEFAULT_LOCALE).ngettext(key, key, n)


def tn(locale: str, key: str, n: int, **params) -> str:
    """The plural form of `key` for the count `n` in `locale`; `{n}` is the count as the locale writes
    it ("1,000" / "1 000"), other placeholders come from params."""
    return _plural_text(locale, key, n).format(**{"n": number(n, locale), **params})


def tn_html(locale: str, key: str, n: int, **params) -> Markup:
    """`tn` for HTML templates: the text and every param escaped, the count in <strong>."""
    count = Markup("<strong>{}</strong>").format(number(n, locale))
    return Markup(escape(_plural_text(locale, key, n))).format(**{"n": count, **params})


def messages(locale: str, prefix: str) -> dict[str, str]:
    """The unformatted singular messages under `prefix.` in one locale, English filling the gaps
    (for texts a merchant may replace, like the widget's)."""
    return {
        message.id: t(locale, message.id)
        for message in catalog(DEFAULT_LOCALE)
        if isinstance(message.id, str) and message.id.startswith(prefix)
    }
