"""Hostile names and shop texts render inert everywhere; junk input gets the empty/404 answer, never a 500."""

from __future__ import annotations

import pytest
import requests

from tests.flows import paid_advocate, set_program, set_shop_name
from tests.ui.test_landing import open_landing, parse, submit_claim

EVIL_NAME = "<script>alert('x')</script>\"Al'"
EVIL_SHOP = "<img src=x onerror=alert(1)> \"Shop\" & 'Co'"


def test_hostile_names_and_shop_texts_are_escaped_on_the_landing_page_and_its_tags(shop):
    set_shop_name(EVIL_SHOP)
    _order, advocate = paid_advocate(shop, "alice@example.com", EVIL_NAME)
    response = requests.get(f"{shop.server.url}/r/{advocate.code}", timeout=10)
    assert response.status_code == 200
    html = response.text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34;Al&#39;" in html
    tags = parse(html).meta
    assert tags["og:title"] == f"{EVIL_NAME} sends you 10% off at {EVIL_SHOP}"
    assert tags["twitter:title"] == tags["og:title"] and tags["og:site_name"] == EVIL_SHOP


def test_hostile_names_are_escaped_in_emails(shop):
    set_shop_name(EVIL_SHOP)
    _order, advocate = paid_advocate(shop, "alice@example.com", EVIL_NAME)
    invite = shop.smtp.wait_for(1)[0]
    assert submit_claim(requests.Session(), shop, advocate.code, "bob@example.com").status_code == 200
    offer = [m for m in shop.smtp.wait_for(2) if m["To"] == "bob@example.com"][0]
    for message in (invite, offer):
        html = message.get_body(("html",)).get_content()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert" in html and "&lt;img src=x" in html


def test_hostile_texts_reach_the_widget_as_plain_json_data(shop):
    set_shop_name(EVIL_SHOP)
    set_program(widget={"title": {"en": "<b onmouseover=alert(1)>Hi</b>"}, "texts": {}})
    order, _advocate = paid_advocate(shop, "alice@example.com", EVIL_NAME)
    body = requests.get(
        f"{shop.server.url}/api/widget/state",
        timeout=10,
        params={"saleorApiUrl": shop.saleor.api_url, "orderId": order["id"]},
    ).json()
    assert body["firstName"] == EVIL_NAME
    assert body["texts"]["title"] == "<b onmouseover=alert(1)>Hi</b>"  # drawn with textContent by widget.js
    for url in body["share"].values():
        assert url.split(":", 1)[0] in ("https", "mailto", "sms", "http")


JUNK_PARAMS = [
    {},
    {"orderId": "x"},
    {"saleorApiUrl": "x"},
    {"orderId": "A" * 100_000},
    {"orderId": "\x00\x01"},
    {"orderId": "🙂" * 300, "locale": "z" * 5000},
    {"orderId": "' OR 1=1 --", "locale": "../../etc/passwd"},
    {"saleorApiUrl": "http://[::1", "orderId": "T3JkZXI6"},
]


@pytest.mark.parametrize("junk", JUNK_PARAMS, ids=range(len(JUNK_PARAMS)))
def test_junk_widget_parameters_get_the_empty_answer(shop, junk):
    params = {"saleorApiUrl": shop.saleor.api_url, **junk} if "saleorApiUrl" not in junk else junk
    response = requests.get(f"{shop.server.url}/api/widget/state", params=params, timeout=10)
    assert response.status_code in (200, 414), response.text[:200]
    if response.status_code == 200:
        assert response.json() == {"show": False}


def test_oversized_or_malformed_share_bodies_are_refused_cleanly(shop):
    url = f"{shop.server.url}/api/widget/share"
    refused = {"error": {"code": "INVALID_SHARE", "message": "Expected JSON {saleorApiUrl, orderId, channel}."}}
    for body in (b"", b"[]", b'{"channel": ["x"]}', b"{" * 100_000, b"\xff\xfe" * 1000):
        response = requests.post(url, data=body, timeout=10)
        assert (response.status_code, response.headers["Content-Type"], response.json()) == (
            400,
            "application/json",
            refused,
        ), body[:20]
    # A known channel with an order that matches nothing answers like any other share: counted nowhere.
    response = requests.post(url, data=b'{"channel": "copy", "orderId": {"$ne": 1}}', timeout=10)
    assert (response.status_code, response.content) == (204, b"")


@pytest.mark.parametrize(
    "path",
    [
        "/r/%3Cscript%3E",
        "/r/" + "Z" * 3000,
        "/r/ABCD%00EF",
        "/portal/%00",
        "/portal/" + "a.b" * 1000,
        "/r/NOPE2345/og.png?lang=" + "x" * 2000,
    ],
)
def test_junk_codes_and_tokens_get_friendly_pages(shop, path):
    response = requests.get(shop.server.url + path, timeout=10)
    assert response.status_code in (404, 410)
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<script>" not in response.text


def test_a_junk_claim_post_never_breaks_the_page(shop):
    _order, advocate = paid_advocate(shop)
    browser = requests.Session()
    page = open_landing(browser, shop, advocate.code)
    for form in (
        {"email": "a" * 10_000 + "@example.com", "consent": "yes", "csrf": page.inputs["csrf"]},
        {"email": ["a@b.co", "c@d.co"], "consent": "yes", "csrf": page.inputs["csrf"]},
        {"email": "<script>@x.co", "consent": "yes", "csrf": page.inputs["csrf"]},
        {"csrf": page.inputs["csrf"]},
    ):
        response = browser.post(f"{shop.server.url}{page.forms[0]}", data=form, timeout=10)
        assert response.status_code in (200, 400), response.status_code
        assert "<script>@" not in response.text


def test_control_characters_in_the_email_and_non_ascii_form_tokens_are_refused(shop):
    _order, advocate = paid_advocate(shop)
    browser = requests.Session()
    page = open_landing(browser, shop, advocate.code)
    for email in ("eve\x00@example.com", "eve@example.com\r\nBcc: x@y.co", "eve\t@example.com"):
        response = browser.post(
            f"{shop.server.url}{page.forms[0]}",
            timeout=10,
            data={"email": email, "consent": "yes", "csrf": page.inputs["csrf"]},
        )
        assert response.status_code == 400, (email, response.status_code)
    for path in (page.forms[0], "/portal/link"):
        response = browser.post(
            f"{shop.server.url}{path}",
            data={"email": "eve@example.com", "consent": "yes", "csrf": "\u00e9t\u00e9"},
            timeout=10,
        )
        assert response.status_code == 400, (path, response.status_code)
    nul = browser.post(
        f"{shop.server.url}/portal/link",
        timeout=10,
        data={"email": "alice\x00@example.com", "csrf": _portal_csrf(browser, shop)},
    )
    assert nul.status_code == 200  # the same answer as for any address; nothing is looked up
    assert shop.saleor.voucher_codes() == {}


def _portal_csrf(browser, shop) -> str:
    import re

    page = browser.get(f"{shop.server.url}/portal/expired", timeout=10).text
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


def test_walking_the_code_space_from_one_address_is_stopped(shop):
    from plugin.ui import views

    paid_advocate(shop)
    statuses = [
        requests.get(f"{shop.server.url}/r/GUESS{i:03d}", timeout=10).status_code for i in range(views.MISS_LIMIT + 1)
    ]
    assert statuses == [404] * views.MISS_LIMIT + [429]
    claims = [
        requests.post(f"{shop.server.url}/r/OTHER{i:03d}", data={"email": "e@example.com"}, timeout=10).status_code
        for i in range(views.CLAIM_LIMIT + 1)
    ]
    assert claims[-1] == 429
