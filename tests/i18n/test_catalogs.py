"""Every catalog is complete — and the check that says so catches each kind of gap."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from plugin.i18n import LOCALES, catalog, sync
from plugin.i18n.catalogs import po_path
from plugin.i18n.check import problems

PLUGIN = Path(__file__).resolve().parents[2] / "plugin"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_catalog_is_complete(locale):
    assert problems(catalog("en"), catalog(locale)) == []


def test_russian_polish_and_latvian_have_three_plural_forms_and_english_two():
    assert {locale: catalog(locale).num_plurals for locale in LOCALES} == {"en": 2, "ru": 3, "pl": 3, "lv": 3}


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_files_are_as_the_sync_tool_writes_them(locale):
    """The English shown to translators above each entry matches en.po (run `python -m plugin.i18n.sync`)."""
    rewritten = sync.render(sync.synced(catalog("en"), catalog(locale), locale))
    assert rewritten.decode() == po_path(locale).read_text(encoding="utf-8")


def test_no_json_catalogs_are_left():
    assert sorted(p.name for p in (PLUGIN / "i18n").iterdir() if p.suffix in (".json", ".po", ".mo")) == [
        "en.po",
        "lv.po",
        "pl.po",
        "ru.po",
    ]


CALL = re.compile(r"""\b(t|tn|tn_html)\(\s*(?:[\w.]+\s*,\s*)?["']([a-z]+\.[a-z0-9_.]+)["']""")


def test_every_key_the_code_names_exists_with_the_right_shape():
    english = catalog("en")
    seen = 0
    for path in [*PLUGIN.rglob("*.py"), *PLUGIN.rglob("*.html")]:
        for function, key in CALL.findall(path.read_text(encoding="utf-8")):
            message = english.get(key)
            where = f"{path.relative_to(PLUGIN)}: {function}(…, {key!r})"
            assert message is not None, f"{where} is not in en.po"
            assert isinstance(message.id, str) == (function == "t"), f"{where}: plural use must match the catalog"
            seen += 1
    assert seen > 60  # the scan does find the call sites


# -- the check itself ---------------------------------------------------------------------------------

ENGLISH = r"""
msgid ""
msgstr ""
"Language: en\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgid "x.greet"
msgstr "Hi {name}"

msgid "x.plain"
msgstr "Plain"

msgid "x.friends"
msgid_plural "x.friends"
msgstr[0] "{n} friend"
msgstr[1] "{n} friends"

msgid "x.gone"
msgstr "Gone"

msgid "x.fuzzy"
msgstr "Fuzzy"
"""

BROKEN_RUSSIAN = r"""
msgid ""
msgstr ""
"Language: ru\n"
"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);\n"

msgid "x.greet"
msgstr "Привет, {nom}"

msgid "x.plain"
msgstr "Просто {"

msgid "x.friends"
msgid_plural "x.friends"
msgstr[0] "{n} друг"
msgstr[1] "{n} друга"

msgid "x.extra"
msgstr "Лишнее"

#, fuzzy
msgid "x.fuzzy"
msgstr "Пушистое"
"""


def _catalog(text: str, locale: str):
    return read_po(BytesIO(text.encode()), locale=locale)


def test_the_check_names_every_gap():
    found = problems(_catalog(ENGLISH, "en"), _catalog(BROKEN_RUSSIAN, "ru"))
    assert found == [
        "x.extra: not an English message (remove it or add it to en.po)",
        "x.greet: placeholders ['nom'], English has ['name']",
        "x.plain: does not format (ValueError(\"Single '{' encountered in format string\"))",
        "x.friends[2]: empty",  # read_po pads a missing plural form with an empty one
        "x.gone: missing",
        "x.fuzzy: marked fuzzy (check it, then remove the flag)",
    ]


def test_the_check_wants_cldrs_plural_rule_and_filled_forms():
    # Latvian with the old gettext rule (0 apart, 10 and 11 as "2") and one form left empty.
    latvian = r"""
msgid ""
msgstr ""
"Language: lv\n"
"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n != 0 ? 1 : 2);\n"

msgid "x.friends"
msgid_plural "x.friends"
msgstr[0] "{n} draugs"
msgstr[1] "{n} draugi"
msgstr[2] ""
"""
    english = _catalog(
        ENGLISH.split('msgid "x.greet"')[0] + 'msgid "x.friends"\nmsgid_plural "x.friends"\n'
        'msgstr[0] "{n} friend"\nmsgstr[1] "{n} friends"\n',
        "en",
    )
    assert problems(english, _catalog(latvian, "lv")) == [
        "Plural-Forms: the rule picks other forms than CLDR for n=[0, 1, 2, 3, 4]",
        "x.friends[2]: empty",
    ]
