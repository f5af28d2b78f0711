"""The order extension in headless Chromium, framed the way the Dashboard frames a GET widget
(3.22+) or a popup (3.21): `?orderId=&theme=` in the URL, the token in the handshake, then `theme`
events. It shows the order's referral, follows the theme, and reports its height with app-sdk's
`widgetResize` action (never a message the Dashboard does not know)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.admin.test_dashboard_browser import PARENT, chromium, dashboard  # noqa: F401 - fixtures
from tests.flows import make_advocate, referred_order

pytestmark = pytest.mark.browser


def framed_widget(dashboard, shop, order_id: str, theme: str) -> str:
    saleor = shop.saleor
    query = urlencode(
        {
            "domain": saleor.domain,
            "saleorApiUrl": saleor.api_url,
            "id": shop.app.id,
            "orderId": order_id,
            "theme": theme,
        }
    )
    dashboard.html = PARENT % {
        "src": f"{shop.server.url}/dashboard/order-widget?{query}",
        "app_origin": json.dumps(shop.server.url),
        "token": json.dumps(saleor.mint_dashboard_token(shop.app)),
        "iframe_attrs": "",
    }
    return f"http://127.0.0.1:{dashboard.port}/"


def test_get_widget_shows_the_referral_and_follows_the_dashboards_theme(chromium, dashboard, shop):  # noqa: F811
    saleor = shop.saleor
    code = make_advocate(saleor)
    order = referred_order(saleor, code, email="friend@example.com")
    page = chromium.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(framed_widget(dashboard, shop, order["id"], "dark"))
    widget = page.frame_locator("#app")

    widget.locator("html[data-theme=dark]").wait_for(state="attached", timeout=10000)
    widget.locator("#rewards").wait_for(timeout=15000)
    assert widget.locator(".pill").inner_text() == "Referred"
    assert widget.locator("#rewards tr").count() == 2
    assert sorted(widget.locator("#rewards td.num").all_inner_texts()) == ["$10", "10%"]
    assert f"code {code}" in widget.locator("dl").inner_text()

    page.evaluate("window.setTheme('light')")
    widget.locator("html[data-theme=light]").wait_for(state="attached", timeout=5000)

    page.wait_for_function("window.received.some(m => m.type === 'widgetResize')", timeout=5000)
    received = page.evaluate("window.received")
    resize = [m for m in received if m.get("type") == "widgetResize"]
    assert resize[-1]["payload"]["height"] > 0 and resize[-1]["payload"]["actionId"]
    assert {m.get("type") for m in received} <= {"notifyReady", "widgetResize"}
    assert errors == []
    page.close()


def test_an_order_the_app_never_saw_says_so(chromium, dashboard, shop):  # noqa: F811
    page = chromium.new_page()
    page.goto(framed_widget(dashboard, shop, "T3JkZXI6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw", "light"))
    unknown = page.frame_locator("#app").locator("#widget-unknown")
    unknown.wait_for(timeout=15000)
    assert unknown.inner_text().startswith("The referral app has not seen this order.")
    page.close()
