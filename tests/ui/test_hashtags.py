"""The merchant's hashtags (settings `widget.hashtags`) travel with every post the share widget opens on
X, Facebook, Telegram and WhatsApp; bad tags are refused field by field and change nothing."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from plugin.program.settings import DEFAULTS, deep_merge
from plugin.program.validation import SettingsInvalid, validate_settings
from tests.admin.helpers import auth_headers
from tests.flows import paid_advocate


def _admin(shop, method: str, path: str, body=None):
    saleor = shop.saleor
    return requests.request(
        method,
        f"{shop.server.url}{path}",
        json=body,
        headers=auth_headers(saleor.mint_dashboard_token(shop.app), saleor.api_url),
        timeout=10,
    )


def _params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def _hashtag_errors(tags) -> dict[str, str]:
    try:
        validate_settings(deep_merge(DEFAULTS, {"widget": {"hashtags": tags}}))
    except SettingsInvalid as exc:
        return exc.fields
    return {}


def test_each_network_gets_the_hashtags_its_own_way(shop):
    saved = _admin(shop, "PUT", "/api/admin/settings", {"widget": {"hashtags": ["#AcmeFriends", "sale_2026", "Łódź"]}})
    assert saved.status_code == 200, saved.text
    assert saved.json()["settings"]["widget"]["hashtags"] == ["AcmeFriends", "sale_2026", "Łódź"]
    order, advocate = paid_advocate(shop, "alice@example.com", "Alice")
    state = requests.get(
        f"{shop.server.url}/api/widget/state",
        params={"saleorApiUrl": shop.saleor.api_url, "orderId": order["id"]},
        timeout=10,
    ).json()
    share, text = state["share"], state["shareText"]
    link = f"{shop.server.url}/r/{advocate.code}"

    x = urlsplit(share["x"])
    assert (x.netloc, x.path) == ("x.com", "/intent/tweet")
    assert _params(share["x"]) == {
        "text": [text],
        "url": [f"{link}?utm_source=x&utm_medium=referral&utm_campaign=referral"],
        "hashtags": ["AcmeFriends,sale_2026,Łódź"],
    }
    facebook = _params(share["facebook"])
    assert facebook["hashtag"] == ["#AcmeFriends"]  # the sharer takes one
    assert facebook["u"][0].startswith(f"{link}?utm_source=facebook")
    telegram = _params(share["telegram"])
    assert telegram["text"] == [f"{text} #AcmeFriends #sale_2026 #Łódź"]
    assert telegram["url"][0].startswith(f"{link}?utm_source=telegram")
    (whatsapp,) = _params(share["whatsapp"])["text"]
    assert whatsapp.startswith(text + f" {link}?utm_source=whatsapp")
    assert whatsapp.endswith(" #AcmeFriends #sale_2026 #Łódź")
    # E-mail and SMS read like a message from a friend: no hashtags there.
    assert "#" not in _params(share["email"])["body"][0].replace(link, "")
    assert "#Acme" not in share["sms"]


def test_without_hashtags_the_posts_carry_none(shop):
    order, _advocate = paid_advocate(shop, "alice@example.com", "Alice")
    share = requests.get(
        f"{shop.server.url}/api/widget/state",
        params={"saleorApiUrl": shop.saleor.api_url, "orderId": order["id"]},
        timeout=10,
    ).json()["share"]
    assert "hashtags" not in _params(share["x"]) and "hashtag" not in _params(share["facebook"])
    assert "#" not in _params(share["telegram"])["text"][0]


def test_bad_hashtags_are_named_field_by_field_and_nothing_is_saved(shop):
    before = _admin(shop, "GET", "/api/admin/settings").json()
    response = _admin(
        shop,
        "PUT",
        "/api/admin/settings",
        {"settings": {"widget": {"hashtags": ["two words", "#", "ok_tag", "OK_TAG"]}}, "version": before["version"]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_SETTINGS"
    assert error["fields"] == {
        "widget.hashtags": "at most 3 hashtags",
        "widget.hashtags.0": "may hold only letters, digits and _ (no spaces, # or punctuation)",
        "widget.hashtags.1": "needs letters or digits after #",
        "widget.hashtags.3": "is already in the list",
    }
    after = _admin(shop, "GET", "/api/admin/settings").json()
    assert (after["version"], after["settings"]["widget"]["hashtags"]) == (before["version"], [])


@pytest.mark.parametrize(
    ("tags", "errors"),
    [
        (["#summer", "Распродажа", "żółć_2"], {}),
        (["", "  ", "#ok"], {}),  # the form's unused fields
        (["a-b"], {"widget.hashtags.0": "may hold only letters, digits and _ (no spaces, # or punctuation)"}),
        (["##double"], {"widget.hashtags.0": "may hold only letters, digits and _ (no spaces, # or punctuation)"}),
        (["2026"], {"widget.hashtags.0": "needs at least one letter: a hashtag of digits only is not linked"}),
        (["x" * 51], {"widget.hashtags.0": "must be at most 50 characters"}),
        (["tag\n"], {}),
        (["ta\ng"], {"widget.hashtags.0": "may hold only letters, digits and _ (no spaces, # or punctuation)"}),
        ([7], {"widget.hashtags.0": "must be text"}),
        ("#one #two", {"widget.hashtags": "must be a list of at most 3 hashtags"}),
        (["Sale", "#sale"], {"widget.hashtags.1": "is already in the list"}),
    ],
)
def test_hashtag_rules(tags, errors):
    assert _hashtag_errors(tags) == errors


def test_hashtags_are_stored_without_their_hash_and_in_composed_form():
    settings = validate_settings(deep_merge(DEFAULTS, {"widget": {"hashtags": ["#cafe\u0301", " #Sale "]}}))
    assert settings["widget"]["hashtags"] == ["café", "Sale"]


def test_the_preview_shows_each_networks_post(shop):
    response = _admin(
        shop,
        "POST",
        "/api/admin/widget-preview",
        {"settings": {"widget": {"hashtags": ["AcmeFriends", "#sale"]}}},
    )
    assert response.status_code == 200, response.text
    share = response.json()["share"]
    assert set(share) == {"x", "facebook", "telegram", "whatsapp"}
    assert share["x"]["text"].startswith(
        "I'm giving you 10% off your first order at Emulated Shop: #AcmeFriends #sale "
    )
    assert share["facebook"]["text"].startswith("#AcmeFriends ")
    assert share["telegram"]["text"].endswith("Emulated Shop: #AcmeFriends #sale")
    assert share["whatsapp"]["text"].endswith(" #AcmeFriends #sale")
    assert _params(share["x"]["url"])["hashtags"] == ["AcmeFriends,sale"]
    refused = _admin(shop, "POST", "/api/admin/widget-preview", {"settings": {"widget": {"hashtags": ["no way"]}}})
    assert refused.status_code == 400
    assert set(refused.json()["error"]["fields"]) == {"widget.hashtags.0"}
