"""Plural forms per language: "1 друг, 2 друга, 5 друзей", chosen by each catalog's CLDR rule."""

from __future__ import annotations

import copy

import pytest

from plugin.i18n import catalogs, t, tn, tn_html


@pytest.mark.parametrize(
    "locale, key, n, expected",
    [
        ("en", "portal.stats.joined", 1, "1 friend ordered"),
        ("en", "portal.stats.joined", 2, "2 friends ordered"),
        ("en", "portal.stats.joined", 5, "5 friends ordered"),
        ("en", "portal.stats.joined", 0, "0 friends ordered"),
        ("ru", "portal.stats.claims", 1, "1 друг получил код"),
        ("ru", "portal.stats.claims", 2, "2 друга получили код"),
        ("ru", "portal.stats.claims", 5, "5 друзей получили код"),
        ("ru", "portal.stats.claims", 11, "11 друзей получили код"),
        ("ru", "portal.stats.claims", 21, "21 друг получил код"),
        ("ru", "portal.stats.claims", 22, "22 друга получили код"),
        ("ru", "portal.stats.claims", 25, "25 друзей получили код"),
        ("ru", "portal.stats.claims", 112, "112 друзей получили код"),
        ("pl", "portal.stats.clicks", 1, "1 wejście z Twojego linku"),
        ("pl", "portal.stats.clicks", 2, "2 wejścia z Twojego linku"),
        ("pl", "portal.stats.clicks", 5, "5 wejść z Twojego linku"),
        ("pl", "portal.stats.clicks", 12, "12 wejść z Twojego linku"),
        ("pl", "portal.stats.clicks", 21, "21 wejść z Twojego linku"),
        ("pl", "portal.stats.clicks", 22, "22 wejścia z Twojego linku"),
        ("pl", "portal.stats.clicks", 25, "25 wejść z Twojego linku"),
        ("lv", "portal.stats.claims", 1, "1 draugs saņēma kodu"),
        ("lv", "portal.stats.claims", 2, "2 draugi saņēma kodu"),
        ("lv", "portal.stats.claims", 5, "5 draugi saņēma kodu"),
        ("lv", "portal.stats.claims", 21, "21 draugs saņēma kodu"),
        ("lv", "portal.stats.claims", 22, "22 draugi saņēma kodu"),
        ("lv", "portal.stats.claims", 25, "25 draugi saņēma kodu"),
        ("lv", "portal.stats.claims", 0, "0 draugu saņēma kodu"),
        ("lv", "portal.stats.claims", 11, "11 draugu saņēma kodu"),
        ("lv", "portal.stats.claims", 30, "30 draugu saņēma kodu"),
        ("ru", "landing.expiry", 14, "Код действует 14 дней после получения."),
        ("ru", "landing.expiry", 21, "Код действует 21 день после получения."),
        ("pl", "landing.expiry", 1, "Kod jest ważny przez 1 dzień od odebrania."),
        ("pl", "landing.expiry", 14, "Kod jest ważny przez 14 dni od odebrania."),
        ("lv", "landing.expiry", 7, "Kods ir derīgs 7 dienas pēc saņemšanas."),
        ("en", "landing.expiry", 1, "The code is valid for 1 day after you claim it."),
    ],
)
def test_plural_forms(locale, key, n, expected):
    assert tn(locale, key, n) == expected


def test_the_count_is_written_the_locales_way():
    assert tn("ru", "portal.stats.joined", 1021) == "1\u00a0021 друг сделал заказ"
    assert tn("en", "portal.stats.joined", 1021) == "1,021 friends ordered"


def test_html_plurals_escape_everything_but_the_emphasised_count():
    assert tn_html("ru", "portal.stats.joined", 22) == "<strong>22</strong> друга сделали заказ"
    assert str(tn_html("en", "portal.stats.claims", 1)) == "<strong>1</strong> friend claimed a code"


def test_unknown_keys_show_the_key_rather_than_a_blank():
    assert t("ru", "no.such.key") == "no.such.key"
    assert tn("ru", "no.such.key", 5) == "no.such.key"
    assert t("xx", "email.code") == "Your code"  # an unsupported locale reads English


@pytest.fixture
def russian_with_gaps(monkeypatch):
    """The Russian catalog with one message removed and one plural message's forms emptied."""
    real = catalogs.catalog

    def patched(locale):
        if locale != "ru":
            return real(locale)
        gapped = copy.deepcopy(real("ru"))
        gapped.delete("email.code")
        gapped["portal.stats.joined"].string = ("", "", "")
        return gapped

    catalogs.translations.cache_clear()
    monkeypatch.setattr(catalogs, "catalog", patched)
    yield
    monkeypatch.undo()
    catalogs.translations.cache_clear()


def test_a_gap_in_a_translation_reads_english(russian_with_gaps):
    assert t("ru", "email.code") == "Your code"
    assert tn("ru", "portal.stats.joined", 5) == "5 friends ordered"
    assert t("ru", "email.shop_link") == "Перейти в магазин"
