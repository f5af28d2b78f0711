"""GET /api/widget/state and POST /api/widget/share, as a storefront's browser calls them."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from tests.flows import paid_advocate, set_program

VOLATILE_HEADERS = {"Date", "Server", "Content-Length", "Connection"}


def state(shop, order_id, *, origin: str | None = "https://shop.example.com", **params):
    headers = {"Origin": origin} if origin else {}
    return requests.get(
        f"{shop.server.url}/api/widget/state",
        timeout=10,
        headers=headers,
        params={"saleorApiUrl": shop.saleor.api_url, "orderId": order_id, **params},
    )


def stable(response) -> tuple:
    return (
        response.status_code,
        response.content,
        {k: v for k, v in response.headers.items() if k not in VOLATILE_HEADERS},
    )


def test_unpaid_and_unknown_orders_get_the_same_empty_answer(shop):
    unpaid = shop.saleor.create_order("bob@example.com", first_name="Bob")
    shop.saleor.checkout_complete(unpaid)
    answer = state(shop, unpaid["id"])
    assert answer.json() == {"show": False}
    assert stable(answer) == stable(state(shop, "T3JkZXI6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw"))
    assert stable(answer) == stable(state(shop, "not-an-order"))
    assert answer.headers["Cache-Control"] == "no-cache"


def test_a_paid_order_gets_the_share_block_with_nothing_but_a_first_name(shop):
    order, advocate = paid_advocate(shop, "alice.liddell@example.com", "Alice", last_name="Zebedee")
    answer = state(shop, order["id"])
    body = answer.json()
    assert body["show"] is True
    assert body["firstName"] == "Alice"
    assert body["offer"] == "Give 10%, get $10"
    assert body["link"] == f"{shop.server.url}/r/{advocate.code}"
    assert body["qr"] == f"{shop.server.url}/r/{advocate.code}/qr.svg"
    assert body["shareText"].startswith("I'm giving you 10% off your first order at ")
    assert body["texts"]["copy"] == "Copy link" and body["texts"]["greeting"] == "Thanks for your order, Alice!"
    raw = answer.text.lower()
    for private in ("liddell", "example.com", "zebedee", "mountain view", "94043"):
        assert private not in raw, private
    assert answer.headers["Cache-Control"] == "private, max-age=300"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_every_share_target_carries_the_channels_utm_link(shop):
    order, advocate = paid_advocate(shop)
    share = state(shop, order["id"]).json()["share"]

    def utm_link(channel):
        return f"{shop.server.url}/r/{advocate.code}?utm_source={channel}&utm_medium=referral&utm_campaign=referral"

    def query(url):
        return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}

    assert share["whatsapp"].startswith("https://wa.me/?")
    assert query(share["whatsapp"])["text"].endswith(utm_link("whatsapp"))
    assert share["telegram"].startswith("https://t.me/share/url?") and query(share["telegram"])["url"] == utm_link(
        "telegram"
    )
    assert share["facebook"].startswith("https://www.facebook.com/sharer/sharer.php?")
    assert query(share["facebook"])["u"] == utm_link("facebook")
    assert share["x"].startswith("https://x.com/intent/tweet?") and query(share["x"])["url"] == utm_link("x")
    assert share["email"].startswith("mailto:?") and query(share["email"])["body"].endswith(utm_link("email"))
    assert share["sms"].startswith("sms:") and query(share["sms"].replace("sms:?&", "sms:?"))["body"].endswith(
        utm_link("sms")
    )
    assert share["copy"] == utm_link("copy") and share["native"] == utm_link("native")


def test_locale_comes_from_the_snippet_then_the_order_then_the_shop(shop):
    order, _advocate = paid_advocate(shop, "olga@example.com", "Olga", language="RU")
    assert state(shop, order["id"]).json()["texts"]["copy"] == "Скопировать ссылку"
    assert state(shop, order["id"], locale="pl-PL").json()["texts"]["copy"] == "Kopiuj link"
    assert state(shop, order["id"], locale="xx").json()["locale"] == "ru"
    english, _ = paid_advocate(shop, "john@example.com", "John")
    set_program(default_locale="lv", languages=["lv", "ru"])
    assert state(shop, english["id"]).json()["locale"] == "lv"


def test_merchant_texts_override_the_catalog_per_locale(shop):
    order, _advocate = paid_advocate(shop)
    set_program(
        widget={
            "title": {"en": "Spread the word"},
            "texts": {
                "intro": {
                    "en": "Friends of {first_name} save {friend_offer}.",
                    "pl": "Znajomi {first_name} oszczędzają.",
                },
                "copy": "Copy!",
            },
        }
    )
    body = state(shop, order["id"]).json()
    assert body["texts"]["title"] == "Spread the word"
    assert body["texts"]["intro"] == "Friends of Alice save 10%."
    assert body["texts"]["copy"] == "Copy!"
    polish = state(shop, order["id"], locale="pl").json()
    assert polish["texts"]["intro"] == "Znajomi Alice oszczędzają."
    assert polish["texts"]["title"].startswith("Poleć sklep "), "no merchant title in Polish: the catalog's"


@pytest.mark.parametrize("change", ["holdout", "disabled", "cancelled", "refunded"])
def test_no_widget_for_holdout_disabled_program_cancelled_or_refunded_orders(shop, change):
    from plugin.db import session_scope
    from plugin.referrals.models import Advocate

    order, advocate = paid_advocate(shop)
    assert state(shop, order["id"]).json()["show"] is True
    if change == "holdout":
        with session_scope() as session:
            session.get(Advocate, advocate.id).variant = "holdout"
    elif change == "disabled":
        set_program(enabled=False)
    elif change == "cancelled":
        shop.saleor.cancel(order)
    else:
        shop.saleor.refund(order)
    assert state(shop, order["id"]).json() == {"show": False}


def test_cors_is_open_until_the_merchant_lists_storefront_origins(shop):
    order, _advocate = paid_advocate(shop)
    assert state(shop, order["id"], origin="https://anything.example").headers["Access-Control-Allow-Origin"] == "*"
    set_program(storefront_origins=["https://shop.example.com"])
    listed = state(shop, order["id"], origin="https://shop.example.com")
    assert listed.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert listed.json()["show"] is True
    other = state(shop, order["id"], origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other.headers
    assert other.json() == {"show": False}
    assert "Origin" in listed.headers["Vary"]


def test_state_is_cacheable_with_an_etag(shop):
    order, _advocate = paid_advocate(shop)
    first = state(shop, order["id"])
    revalidated = requests.get(
        first.url, headers={"If-None-Match": first.headers["ETag"], "Origin": "https://shop.example.com"}, timeout=10
    )
    assert revalidated.status_code == 304


def test_views_and_shares_are_counted_by_channel(shop):
    from plugin.analytics.models import FunnelEvent
    from plugin.db import session_scope

    order, advocate = paid_advocate(shop)
    state(shop, order["id"])
    url = f"{shop.server.url}/api/widget/share"
    payload = {"saleorApiUrl": shop.saleor.api_url, "orderId": order["id"]}
    for channel in ("whatsapp", "copy"):
        response = requests.post(
            url,
            data=json.dumps({**payload, "channel": channel}),
            headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://s.example"},
        )
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    unknown_order = requests.post(url, data=json.dumps({**payload, "orderId": "nope", "channel": "sms"}))
    assert unknown_order.status_code == 204
    bad = requests.post(url, data=json.dumps({**payload, "channel": "<script>"}))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_SHARE"
    assert requests.post(url, data=b"\xff{not json").status_code == 400
    with session_scope() as session:
        events = session.execute(
            select(FunnelEvent.kind, FunnelEvent.share_channel, FunnelEvent.advocate_id).order_by(FunnelEvent.id)
        ).all()
    assert events == [
        ("widget_view", None, advocate.id),
        ("share", "whatsapp", advocate.id),
        ("share", "copy", advocate.id),
    ]


def test_state_is_rate_limited_with_a_json_429(shop):
    from plugin.ui import views

    order, _advocate = paid_advocate(shop)
    statuses = [state(shop, order["id"]).status_code for _ in range(views.STATE_LIMIT + 1)]
    assert statuses[:-1] == [200] * views.STATE_LIMIT
    limited = state(shop, order["id"])
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "TOO_MANY_REQUESTS"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["Access-Control-Allow-Origin"] == "*"
