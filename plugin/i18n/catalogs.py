"""The gettext catalogs: `plugin/i18n/<locale>.po`, compiled in memory by Babel on first use.

Why in memory rather than shipped `.mo` files: the `.po` files are the only source, so a compiled
file can never be stale or missing — `pip install .` and `make run` on a fresh machine need no build
step — and compiling four small catalogs once per process takes milliseconds.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("en", "ru", "pl", "lv")
DEFAULT_LOCALE = "en"
DOMAIN = "messages"
DIRECTORY = Path(__file__).parent


def po_path(locale: str) -> Path:
    return DIRECTORY / f"{locale}.po"


def read_catalog(path: Path, locale: str) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=locale, domain=DOMAIN, abort_invalid=True)


@cache
def catalog(locale: str) -> Catalog:
    """The parsed `.po` of one supported locale (messages, plural rule, flags)."""
    if locale not in LOCALES:
        raise KeyError(f"no catalog for locale {locale!r}")
    return read_catalog(po_path(locale), locale)


@cache
def translations(locale: str) -> Translations:
    """gettext translations for `locale`, falling back to English (and then to the key itself).

    Fuzzy and untranslated entries are left out when compiling, so they fall back too.
    """
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    compiled = BytesIO()
    write_mo(compiled, catalog(locale))
    compiled.seek(0)
    result = Translations(compiled, domain=DOMAIN)
    if locale != DEFAULT_LOCALE:
        result.add_fallback(translations(DEFAULT_LOCALE))
    return result
