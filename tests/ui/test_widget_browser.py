"""The share widget in headless Chromium, on a small storefront page carrying the drop-in snippet.

Needs the Debian `chromium` package (/usr/bin/chromium; `make browser` installs it). Without it
these tests skip, except under CI=true where they fail. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import IN_CI, ROOT, free_port
from tests.flows import paid_advocate, set_shop_name

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
WIDGET_HOST = "#referral > div"


class Storefront:
    """A checkout success page with the snippet, on its own loopback origin (so CORS is real)."""

    def __init__(self, app_url: str, saleor_api_url: str):
        self.app_url, self.saleor_api_url = app_url, saleor_api_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        args = request.args
        attrs = {"data-saleor-api-url": self.saleor_api_url, "data-order-id": args.get("order", "")}
        for name in ("locale", "theme", "target"):
            if args.get(name):
                attrs[f"data-{name}"] = args[name]
        snippet = " ".join(f'{k}="{html.escape(v)}"' for k, v in attrs.items())
        page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Order confirmed</title>
<style>body{{font-family:serif;margin:24px}} a, button, p {{color: red !important; font-size: 40px !important}}</style></head>
<body><h1>Thank you! Your order is confirmed.</h1><div id="referral"></div><p id="below">Order summary…</p>
<script src="{self.app_url}/widget.js" {snippet} async></script></body></html>"""
        response = Response(page, mimetype="text/html")
        if args.get("csp"):
            response.headers["Content-Security-Policy"] = (
                f"default-src 'self'; script-src {self.app_url}; connect-src {self.app_url}; "
                f"img-src {self.app_url}; style-src 'self'"
            )
        return response(environ, start_response)

    def page_url(self, order_id: str, **attrs) -> str:
        query = "&".join(f"{k}={quote(str(v))}" for k, v in {"order": order_id, "target": "#referral", **attrs}.items())
        return f"{self.url}/checkout/success?{query}"

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is required under CI=true (apt-get install chromium)", pytrace=False)
        pytest.skip(f"{CHROMIUM} not found: install the Debian package 'chromium' (make browser) to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def storefront(shop):
    front = Storefront(shop.server.url, shop.saleor.api_url).start()
    yield front
    front.stop()


@pytest.fixture
def page(browser, storefront, request):
    """A fresh browser context allowed to use the clipboard; any non-loopback request is blocked and noted."""
    context = browser.new_context(viewport={"width": 900, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=storefront.url)
    outside: list[str] = []

    def only_loopback(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    tab = context.new_page()
    tab.outside_requests = outside
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.dialogs = dialogs
    yield tab
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def widget_links(tab) -> dict[str, str]:
    return tab.evaluate("""() => Object.fromEntries(
        [...document.querySelector('#referral > div').shadowRoot.querySelectorAll('a')]
          .map(a => [a.textContent, a.getAttribute('href')]))""")


def funnel_events(kind: str) -> list[tuple]:
    from plugin.analytics.models import FunnelEvent
    from plugin.db import session_scope

    with session_scope() as session:
        return session.execute(
            select(FunnelEvent.kind, FunnelEvent.share_channel).where(FunnelEvent.kind == kind).order_by(FunnelEvent.id)
        ).all()


def test_widget_stays_out_of_the_page_until_the_order_is_paid_then_appears_without_reload(page, shop, storefront):
    order = shop.saleor.create_order("alice@example.com", first_name="Alice")
    shop.saleor.checkout_complete(order)
    page.goto(storefront.page_url(order["id"]))
    page.wait_for_load_state("load")
    page.wait_for_timeout(2500)  # the first check has been answered "not yet"
    assert page.evaluate("document.querySelector('#referral').childElementCount") == 0
    assert page.locator("#referral").bounding_box()["height"] == 0, "nothing is reserved before the widget shows"
    page.evaluate("window.__sameDocument = true")

    shop.saleor.pay(order)
    page.wait_for_selector(WIDGET_HOST, timeout=40_000)
    assert page.evaluate("window.__sameDocument") is True, "the widget appeared without a reload"
    assert page.get_by_role("heading", name="Give 10%, get $10").is_visible()
    assert page.get_by_text("Thanks for your order, Alice!").is_visible()
    assert page.get_by_role("region", name="Share").count() == 1
    assert page.outside_requests == [], "the widget made third-party requests"
    assert funnel_events("widget_view") == [("widget_view", None)]


def test_every_share_button_carries_the_right_url(page, shop, storefront):
    order, advocate = paid_advocate(shop)
    page.goto(storefront.page_url(order["id"]))
    page.wait_for_selector(WIDGET_HOST, timeout=20_000)
    links = widget_links(page)

    def utm(channel):
        return f"{shop.server.url}/r/{advocate.code}?utm_source={channel}&utm_medium=referral&utm_campaign=referral"

    def query(url):
        return {k: v[0] for k, v in parse_qs(urlsplit(url.replace("sms:?&", "sms:?")).query).items()}

    assert set(links) == {"WhatsApp", "Telegram", "Facebook", "X", "E-mail", "SMS"}
    assert links["WhatsApp"].startswith("https://wa.me/?") and query(links["WhatsApp"])["text"].endswith(
        utm("whatsapp")
    )
    assert links["Telegram"].startswith("https://t.me/share/url?") and query(links["Telegram"])["url"] == utm(
        "telegram"
    )
    assert query(links["Facebook"])["u"] == utm("facebook")
    assert links["X"].startswith("https://x.com/intent/tweet?") and query(links["X"])["url"] == utm("x")
    assert links["E-mail"].startswith("mailto:?") and query(links["E-mail"])["body"].endswith(utm("email"))
    assert links["SMS"].startswith("sms:") and query(links["SMS"])["body"].endswith(utm("sms"))
    assert page.get_by_label("Your personal link").input_value() == f"{shop.server.url}/r/{advocate.code}"

    with page.context.expect_page() as popup:
        page.get_by_role("link", name="WhatsApp").click()
    popup.value.close()
    page.wait_for_timeout(500)
    assert funnel_events("share") == [("share", "whatsapp")]


def test_copy_puts_the_link_on_the_clipboard_and_says_so(page, shop, storefront):
    order, advocate = paid_advocate(shop)
    page.goto(storefront.page_url(order["id"]))
    page.wait_for_selector(WIDGET_HOST, timeout=20_000)
    copy = page.get_by_role("button", name="Copy link")
    copy.focus()
    page.keyboard.press("Enter")
    status = page.get_by_role("status")
    status.get_by_text("Link copied").wait_for()
    clipboard = page.evaluate("navigator.clipboard.readText()")
    assert clipboard == f"{shop.server.url}/r/{advocate.code}?utm_source=copy&utm_medium=referral&utm_campaign=referral"
    page.wait_for_timeout(300)
    assert funnel_events("share") == [("share", "copy")]


def test_native_share_sheet_and_qr_code(page, shop, storefront):
    page.add_init_script("navigator.share = (data) => { window.__shared = data; return Promise.resolve(); }")
    order, advocate = paid_advocate(shop)
    page.goto(storefront.page_url(order["id"], locale="lv", theme="dark"))
    page.wait_for_selector(WIDGET_HOST, timeout=20_000)
    assert page.get_by_role("region").get_attribute("lang") == "lv"
    page.get_by_role("button", name="Dalīties…").click()
    shared = page.evaluate("window.__shared")
    assert (
        shared["url"]
        == f"{shop.server.url}/r/{advocate.code}?utm_source=native&utm_medium=referral&utm_campaign=referral"
    )
    assert shared["text"].startswith("Dāvinu tev 10% atlaidi pirmajam pasūtījumam veikalā ")

    qr_button = page.get_by_role("button", name="QR kods")
    assert qr_button.get_attribute("aria-expanded") == "false"
    qr_button.click()
    assert qr_button.get_attribute("aria-expanded") == "true"
    image = page.get_by_role("img", name="Jūsu personīgās saites QR kods")
    image.wait_for()
    page.wait_for_function("""() => { const img = document.querySelector('#referral > div').shadowRoot.querySelector('img');
                                      return img.complete && img.naturalWidth > 0; }""")


def test_page_styles_do_not_leak_into_the_widget(page, shop, storefront):
    order, _advocate = paid_advocate(shop)
    page.goto(storefront.page_url(order["id"]))
    page.wait_for_selector(WIDGET_HOST, timeout=20_000)
    button = page.get_by_role("button", name="Copy link")
    assert button.evaluate("b => getComputedStyle(b).fontSize") == "14px"
    assert button.evaluate("b => getComputedStyle(b).color") != "rgb(255, 0, 0)"


def test_widget_works_under_a_strict_content_security_policy(page, shop, storefront):
    order, _advocate = paid_advocate(shop)
    page.goto(storefront.page_url(order["id"], csp="1"))
    page.wait_for_selector(WIDGET_HOST, timeout=20_000)
    button = page.get_by_role("button", name="Copy link")
    assert button.evaluate("b => getComputedStyle(b).borderRadius") == "8px", "the widget's styles were blocked"


def test_without_a_target_the_widget_renders_where_the_snippet_is(page, shop, storefront):
    order, _advocate = paid_advocate(shop)
    page.goto(storefront.page_url(order["id"], target=""))
    page.wait_for_function("document.querySelector('script[data-order-id]').previousElementSibling?.shadowRoot")
    assert page.evaluate("document.querySelector('#referral').childElementCount") == 0


def test_hostile_names_and_shop_texts_render_as_text(page, shop, storefront):
    set_shop_name("<img src=x onerror=alert(1)>")
    order, _advocate = paid_advocate(
        shop, "alice@example.com", "<script>alert('x')</script>\"><img src=y onerror=alert(2)>"
    )
    page.goto(storefront.page_url(order["id"]))
    page.wait_for_selector(WIDGET_HOST, timeout=20_000)
    page.wait_for_timeout(500)
    assert page.dialogs == []
    root_html = page.evaluate("document.querySelector('#referral > div').shadowRoot.innerHTML")
    assert "<script>" not in root_html and "<img src=" not in root_html
    assert page.get_by_text(
        "Thanks for your order, <script>alert('x')</script>\"><img src=y onerror=alert(2)>!"
    ).is_visible()


def test_unknown_orders_render_nothing(page, shop, storefront):
    paid_advocate(shop)
    page.goto(storefront.page_url("T3JkZXI6bm90LWEtcmVhbC1vcmRlcg=="))
    page.wait_for_timeout(3000)
    assert page.evaluate("document.querySelector('#referral').childElementCount") == 0
    assert page.evaluate("document.body.innerText").count("Order summary") == 1
