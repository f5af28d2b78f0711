"""Message catalogs for the widget, pages and e-mails (en, ru, pl, lv).

Catalogs are flat JSON files `plugin/i18n/<locale>.json`; a missing key falls
back to English, so a half-translated locale never shows a blank.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LOCALES = ("en", "ru", "pl", "lv")
DEFAULT_LOCALE = "en"
_DIR = Path(__file__).parent


@lru_cache(maxsize=None)
def catalog(locale: str) -> dict[str, str]:
    path = _DIR / f"{locale}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


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
    text = catalog(locale).get(key) or catalog(DEFAULT_LOCALE).get(key) or key
    return text.format(**params) if params else text


def messages(locale: str, prefix: str) -> dict[str, str]:
    """All keys under `prefix.` for one locale, English filling the gaps."""
    base = {k: v for k, v in catalog(DEFAULT_LOCALE).items() if k.startswith(prefix)}
    base.update({k: v for k, v in catalog(locale).items() if k.startswith(prefix)})
    return base
