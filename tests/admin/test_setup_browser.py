"""The setup checklist in headless Chromium, inside the stand-in Dashboard.

A freshly installed shop opens the Referrals page and sees three steps to do, with the widget
snippet carrying its own app URL and Saleor API URL. Loading that snippet on a storefront page does
nothing for the checklist until the page's origin is listed in the settings; once it is, the next
load turns "Widget seen on your storefront" green. A referred order finishes the list, which then
folds into one closed line.
"""

from __future__ import annotations

import pytest

from tests.admin.test_dashboard_browser import chromium, dashboard  # noqa: F401 - fixtures
from tests.flows import make_advocate, referred_order
from tests.storefront.conftest import Storefront

pytestmark = pytest.mark.browser


@pytest.fixture
def storefront():
    server = Storefront()
    yield server
    server.stop()


def load_widget(chromium, url: str, app_url: str) -> None:
    """Open the storefront page and wait until the widget has asked the app about the order."""
    page = chromium.new_page()
    with page.expect_response(lambda r: r.url.startswith(f"{app_url}/api/widget/state")) as answer:
        page.goto(url)
    assert answer.value.status == 200
    page.close()


def test_fresh_shop_sees_the_checklist_and_the_widget_from_a_listed_origin_ticks_it(
    chromium, dashboard, storefront, shop
):  # noqa: F811 - fixtures
    saleor, app_url = shop.saleor, shop.server.url
    context = chromium.new_context(viewport={"width": 960, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(
        dashboard.page(
            app_url=app_url,
            token=saleor.mint_dashboard_token(shop.app),
            saleor_api_url=saleor.api_url,
            app_id=shop.app.id,
        )
    )
    app = page.frame_locator("#app")

    setup = app.locator("#setup [data-complete=false]")
    setup.wait_for(timeout=15000)
    steps = app.locator("#setup li.step")
    assert [steps.nth(i).get_attribute("data-step") for i in range(3)] == ["storefront", "widget_seen", "test_order"]
    assert [steps.nth(i).get_attribute("data-done") for i in range(3)] == ["false", "false", "false"]
    snippet = app.locator("#setup-snippet").inner_text()
    assert f'<script src="{app_url}/widget.js"' in snippet and f'data-saleor-api-url="{saleor.api_url}"' in snippet
    app.locator("#setup-copy").click()
    app.locator("#setup-copied").filter(has_text="Copied").wait_for(timeout=5000)

    # The merchant pastes the snippet into their confirmation page (a real order id in place).
    order = saleor.create_order("alice@example.com", first_name="Alice")
    storefront_page = storefront.page(
        "/checkout/complete",
        f"""<!doctype html><html><head><meta charset="utf-8">
        <title>Thanks</title></head><body><h1>Thank you!</h1>{snippet.replace("ORDER_ID", order["id"])}</body></html>""",
    )
    load_widget(chromium, storefront_page, app_url)  # origin not listed yet: proves nothing
    app.locator("#setup-refresh").click()
    app.locator("#setup-widget-status").filter(has_text="Not seen yet").wait_for(timeout=5000)

    app.locator("[data-tab=settings]").click()
    app.locator('[data-path="storefront_url"]').fill(f"{storefront.origin}/")
    app.locator('[data-path="storefront_origins"]').fill(storefront.origin)
    app.locator("#save-settings").click()
    app.locator("#setup li[data-step=storefront][data-done=true]").wait_for(timeout=10000)
    assert app.locator("#setup li[data-step=widget_seen]").get_attribute("data-done") == "false"

    load_widget(chromium, storefront_page, app_url)
    app.locator("#setup-refresh").click()
    seen = app.locator("#setup li[data-step=widget_seen][data-done=true]")
    seen.wait_for(timeout=10000)
    assert app.locator("#setup-widget-status").inner_text().startswith(f"Widget seen on {storefront.origin} (")
    frame = next(f for f in page.frames if f.url.startswith(app_url))
    green = "rgb(21, 128, 61)"  # --ok of the light theme
    assert frame.evaluate("getComputedStyle(document.querySelector('#setup-widget-status')).color") == green

    code = make_advocate(saleor)
    referred_order(saleor, code)
    app.locator("#setup-refresh").click()
    folded = app.locator("#setup details[data-complete=true]")
    folded.wait_for(timeout=10000)
    assert folded.get_attribute("open") is None
    assert app.locator("#setup summary").inner_text() == "Setup complete: your referral program is live"
    assert errors == []
    context.close()
