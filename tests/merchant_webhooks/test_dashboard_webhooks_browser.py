"""The Webhooks tab in headless Chromium: add an endpoint (a readable error first), copy the secret
shown once, read the delivery log, send a failed event again, and see the disabled-endpoint notice."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from plugin.db import session_scope, utcnow
from plugin.merchant_webhooks.models import WebhookEndpoint
from tests.admin.test_dashboard_browser import chromium, dashboard  # noqa: F401 - fixtures
from tests.flows import make_advocate

pytestmark = pytest.mark.browser


def test_merchant_adds_an_endpoint_and_resends_from_the_log(chromium, dashboard, webhook_shop, receiver):  # noqa: F811
    saleor = webhook_shop.saleor
    receiver.start()
    receiver.status = 500  # the merchant's system fails at first
    url = dashboard.page(
        app_url=webhook_shop.server.url,
        token=saleor.mint_dashboard_token(webhook_shop.app),
        saleor_api_url=saleor.api_url,
        app_id=webhook_shop.app.id,
    )
    page = chromium.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    app = page.frame_locator("#app")
    app.locator("#shop-line").filter(has_text="signed in as").wait_for(timeout=15000)
    app.locator("[data-tab=webhooks]").click()
    app.locator("#webhook-endpoints").filter(has_text="No endpoints yet").wait_for(timeout=10000)

    app.locator("#webhook-url").fill("ftp://crm.example.com/hooks")
    app.locator("#add-webhook").click()
    app.locator('[data-error-for="url"]').filter(has_text="must start with https://").wait_for(timeout=10000)
    assert app.locator("#webhook-url").get_attribute("aria-invalid") == "true"

    app.locator("#webhook-url").fill(receiver.url)
    app.locator("#webhook-description").fill("CRM <b>sync</b>")
    app.locator("#add-webhook").click()
    secret = app.locator("#webhook-secret-value")
    secret.wait_for(timeout=10000)
    receiver.secrets.append(secret.inner_text())
    assert receiver.secrets[0].startswith("whsec_")
    endpoint = app.locator("article.endpoint")
    endpoint.filter(has_text="CRM <b>sync</b>").wait_for(timeout=10000)  # text, never markup
    assert "Active" in endpoint.inner_text()

    make_advocate(saleor)  # advocate.enrolled: the receiver answers 500
    app.locator("#webhook-log-status").select_option("pending")
    row = app.locator("#webhook-log tbody tr").filter(has_text="advocate.enrolled")
    row.filter(has_text="1 try · HTTP 500").wait_for(timeout=10000)
    assert "Waiting for a retry" in row.inner_text()

    receiver.status = 200
    row.locator("[data-redeliver]").click()
    row.locator("[data-status=delivered]").wait_for(timeout=10000)
    assert row.locator("[data-redeliver]").inner_text() == "Sent"
    assert receiver.events() == ["advocate.enrolled"]  # verified with the secret the page showed

    row.get_by_text("Details").click()
    detail = app.locator("#webhook-log tr.delivery-detail")
    detail.filter(has_text='"type": "advocate.enrolled"').wait_for(timeout=10000)
    assert "sent by hand" in detail.inner_text()
    frame = next(f for f in page.frames if f.url.startswith(webhook_shop.server.url))
    assert frame.evaluate("document.documentElement.scrollWidth") <= 900  # fits the Dashboard's iframe

    # An endpoint the app disabled after a day of failures: a notice on top, and re-enabling.
    with session_scope() as session:
        session.execute(
            update(WebhookEndpoint).values(
                enabled=False,
                disabled_at=utcnow(),
                disabled_reason="Disabled automatically: every delivery attempt failed for 24 hours. Last error: HTTP 500",
            )
        )
    page.reload()
    notice = page.frame_locator("#app").locator("#webhooks-notice")
    notice.filter(has_text="was disabled on").wait_for(timeout=15000)
    assert "every delivery attempt failed for 24 hours" in notice.inner_text()
    notice.get_by_text("Open Webhooks to fix and re-enable").click()
    app = page.frame_locator("#app")
    app.locator("article.endpoint[data-enabled=false]").get_by_text("Enable", exact=True).click()
    app.locator("article.endpoint[data-enabled=true]").wait_for(timeout=10000)
    notice.wait_for(state="hidden", timeout=10000)
    assert errors == []
    page.close()
