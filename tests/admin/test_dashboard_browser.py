"""The Dashboard page in real headless Chromium, framed by a page that plays the Saleor Dashboard.

The parent page (its own loopback origin) frames `{APP_URL}/dashboard/`, answers `notifyReady`
with a `handshake` carrying a JWT minted by the Saleor emulator, and later sends `tokenRefresh`
and `theme`. The merchant changes the advocate's reward and saves; the next coupon the app creates
in Saleor has the new value.
"""

from __future__ import annotations

import json
import os
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from plugin.coupons.models import Coupon
from tests.conftest import free_port
from tests.flows import coupons_for, make_advocate, referred_order

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PARENT = """<!doctype html><html><head><meta charset="utf-8"><title>Saleor Dashboard (test)</title></head>
<body style="margin:0">
<iframe id="app" src="%(src)s" style="width:900px;height:1400px;border:0" %(iframe_attrs)s></iframe>
<script>
  const appOrigin = %(app_origin)s;
  let token = %(token)s;
  window.received = [];
  const frame = document.getElementById("app");
  function handshake() {
    frame.contentWindow.postMessage({type: "handshake", payload: {token, version: 1, saleorVersion: "3.23.28",
                                      dashboardVersion: "3.23.0"}}, appOrigin);
  }
  frame.addEventListener("load", handshake);
  window.addEventListener("message", (event) => {
    if (event.origin !== appOrigin) return;
    window.received.push(event.data);
    if (event.data && event.data.type === "notifyReady") handshake();
    if (event.data && event.data.payload && event.data.payload.actionId) {
      frame.contentWindow.postMessage({type: "response", payload: {actionId: event.data.payload.actionId, ok: true}},
                                      appOrigin);
    }
  });
  window.refreshToken = (fresh) => { token = fresh;
    frame.contentWindow.postMessage({type: "tokenRefresh", payload: {token: fresh}}, appOrigin); };
  window.setTheme = (theme) => frame.contentWindow.postMessage({type: "theme", payload: {theme}}, appOrigin);
</script></body></html>"""


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is required under CI=true (apt-get install -y chromium)", pytrace=False)
        pytest.skip(f"{CHROMIUM} not found: install the Debian package 'chromium' to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


class DashboardStandIn:
    """Serves the parent page on its own loopback port (a different origin from the app)."""

    def __init__(self):
        self.html = ""
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, self.wsgi, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wsgi(self, environ, start_response):
        Request(environ)
        return Response(self.html, mimetype="text/html")(environ, start_response)

    def page(
        self, *, app_url: str, token: str, saleor_api_url: str, app_id: str, theme="light", iframe_attrs: str = ""
    ) -> str:
        src = f"{app_url}/dashboard/?saleorApiUrl={saleor_api_url}&id={app_id}&theme={theme}&domain=x"
        self.html = PARENT % {
            "src": src,
            "app_origin": json.dumps(app_url),
            "token": json.dumps(token),
            "iframe_attrs": iframe_attrs,
        }
        return f"http://127.0.0.1:{self.port}/"

    def open(self, chromium, shop, tab: str, **page_options):
        """The app signed in inside this stand-in, on `tab`: (page, the app's frame, page errors)."""
        url = self.page(
            app_url=shop.server.url,
            token=shop.saleor.mint_dashboard_token(shop.app),
            saleor_api_url=shop.saleor.api_url,
            app_id=shop.app.id,
        )
        page = chromium.new_page(**page_options)
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        app = page.frame_locator("#app")
        app.locator("#shop-line").filter(has_text="signed in as").wait_for(timeout=15000)
        app.locator(f"[data-tab={tab}]").click()
        return page, app, errors

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def dashboard():
    stand_in = DashboardStandIn()
    yield stand_in
    stand_in.stop()


def _voucher_value(saleor, code: str) -> Decimal:
    with saleor.state.lock:
        found = saleor.state.find_code(code)
        assert found, f"{code} was not created in Saleor"
        voucher, _code = found
        return voucher.listing_for("default-channel").discount_value


def test_merchant_changes_the_reward_and_the_next_coupon_uses_it(chromium, dashboard, shop):
    saleor = shop.saleor
    advocate = make_advocate(saleor)
    url = dashboard.page(
        app_url=shop.server.url,
        token=saleor.mint_dashboard_token(shop.app),
        saleor_api_url=saleor.api_url,
        app_id=shop.app.id,
    )
    context = chromium.new_context(viewport={"width": 960, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    settings_requests = []
    page.on(
        "request",
        lambda r: settings_requests.append(r) if r.url.endswith("/api/admin/settings") and r.method == "PUT" else None,
    )
    page.goto(url)
    app = page.frame_locator("#app")

    app.locator("#shop-line").filter(has_text="signed in as admin@example.com").wait_for(timeout=15000)
    app.locator("[data-tab=settings]").click()
    value = app.locator('[data-path="default_rewards.referrer.value"]')
    assert value.input_value() == "10"
    assert app.locator("[data-channel=default-channel] > legend").inner_text().startswith("Default Channel")

    fresh = saleor.mint_dashboard_token(shop.app, email="owner@shop.example")
    page.evaluate("token => window.refreshToken(token)", fresh)
    value.fill("15")
    app.locator("#save-settings").click()
    app.locator("#settings-status").filter(has_text="Saved (1 change)").wait_for(timeout=15000)
    assert settings_requests[-1].headers["authorization-bearer"] == fresh  # the refreshed token was used
    assert settings_requests[-1].headers["saleor-api-url"] == saleor.api_url
    assert any(m.get("type") == "notifyReady" for m in page.evaluate("window.received"))
    assert any(m.get("type") == "notification" for m in page.evaluate("window.received"))

    order = referred_order(saleor, advocate, email="friend@example.com")
    reward = next(c for c in coupons_for(order["id"]) if c.purpose == Coupon.REFERRER_REWARD)
    assert reward.value == Decimal("15")
    assert _voucher_value(saleor, reward.code) == Decimal("15")

    # The history tab names who changed what; the overview charts the new referral.
    app.locator("[data-tab=history]").click()
    app.locator("#history").filter(has_text="owner@shop.example").wait_for(timeout=10000)
    assert "default_rewards.referrer.value" in app.locator("#history").inner_text()
    app.locator("[data-tab=overview]").click()
    app.locator("#range-form button[type=submit]").click()
    app.locator("#overview svg.chart").first.wait_for(timeout=10000)
    assert app.locator("#overview [data-channel=default-channel]").count() == 1

    # Dark theme from the Dashboard's theme event, and nothing wider than the 900 px iframe.
    page.evaluate("window.setTheme('dark')")
    app.locator("html[data-theme=dark]").wait_for(state="attached", timeout=5000)
    frame = next(f for f in page.frames if f.url.startswith(shop.server.url))
    assert frame.evaluate("document.documentElement.scrollWidth") <= 900
    assert errors == []
    context.close()


def test_invalid_value_is_shown_next_to_its_field(chromium, dashboard, shop):
    saleor = shop.saleor
    url = dashboard.page(
        app_url=shop.server.url,
        token=saleor.mint_dashboard_token(shop.app),
        saleor_api_url=saleor.api_url,
        app_id=shop.app.id,
        theme="dark",
    )
    page = chromium.new_page()
    page.goto(url)
    app = page.frame_locator("#app")
    app.locator("html[data-theme=dark]").wait_for(state="attached", timeout=10000)
    app.locator("[data-tab=settings]").click()
    app.locator('[data-channel-toggle="default-channel"]').check()
    app.locator('[data-path="channels.default-channel.referrer.value"]').fill("-5")
    app.locator("#save-settings").click()
    error = app.locator('[data-error-for="channels.default-channel.referrer.value"]')
    error.filter(has_text="must be a number > 0").wait_for(timeout=10000)
    assert app.locator('[data-path="channels.default-channel.referrer.value"]').get_attribute("aria-invalid") == "true"
    assert "Not saved" in app.locator("#settings-status").inner_text()
    page.close()


def test_page_refuses_messages_without_a_dashboard_referrer(chromium, dashboard, shop):
    """With no referrer there is no Dashboard origin to trust: the handshake is ignored."""
    saleor = shop.saleor
    url = dashboard.page(
        app_url=shop.server.url,
        token=saleor.mint_dashboard_token(shop.app),
        saleor_api_url=saleor.api_url,
        app_id=shop.app.id,
        iframe_attrs='referrerpolicy="no-referrer"',
    )
    page = chromium.new_page()
    page.goto(url)
    banner = page.frame_locator("#app").locator("#auth-banner")
    banner.filter(has_text="Open this page from the Saleor Dashboard").wait_for(timeout=10000)
    page.wait_for_timeout(1000)  # the parent's handshake (sent on iframe load) has arrived by now
    assert page.frame_locator("#app").locator("#tabs").is_hidden()
    page.close()
