"""Hashtags on the Dashboard's settings page (headless Chromium, framed by a stand-in Saleor Dashboard):
the merchant types them and sees each network's post change, gets a bad one named next to its field,
and saves what the widget then shares."""

from __future__ import annotations

import pytest

from plugin.db import session_scope
from plugin.program.settings import load_program
from tests.admin.test_dashboard_browser import chromium, dashboard  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_typed_hashtags_show_in_each_networks_post_preview(chromium, dashboard, shop):  # noqa: F811
    page, app, errors = dashboard.open(chromium, shop, "settings", viewport={"width": 960, "height": 1000})
    posts = {
        channel: app.locator(f"#widget-preview-share-{channel}")
        for channel in ("x", "facebook", "telegram", "whatsapp")
    }
    shared = "I'm giving you 10% off your first order at Emulated Shop:"
    posts["telegram"].filter(has_text=shared).wait_for(timeout=10000)
    assert "#" not in posts["telegram"].inner_text()

    app.get_by_label("Hashtag 1").fill("#AcmeFriends")
    app.get_by_label("Hashtag 2").fill("летняя_распродажа")
    posts["telegram"].filter(has_text=f"{shared} #AcmeFriends #летняя_распродажа").wait_for(timeout=10000)
    assert posts["whatsapp"].inner_text().endswith(" #AcmeFriends #летняя_распродажа")
    assert posts["x"].inner_text().startswith(f"{shared} #AcmeFriends #летняя_распродажа ")
    assert posts["facebook"].inner_text().startswith("#AcmeFriends ")  # Facebook takes the first only

    app.get_by_label("Hashtag 3").fill("two words")
    error = app.locator('[data-error-for="widget.hashtags.2"]')
    error.filter(has_text="may hold only letters, digits and _").wait_for(timeout=10000)
    assert app.get_by_label("Hashtag 3").get_attribute("aria-invalid") == "true"
    app.get_by_label("Hashtag 3").fill("#Acme_2026")
    posts["telegram"].filter(has_text="#Acme_2026").wait_for(timeout=10000)
    assert error.inner_text() == ""

    app.locator("#save-settings").click()
    app.locator("#settings-status").filter(has_text="Saved").wait_for(timeout=15000)
    with session_scope(shop.tenant_id()) as session:
        program = load_program(session, shop.tenant_id())
    assert program.widget.hashtags == ("AcmeFriends", "летняя_распродажа", "Acme_2026")
    assert errors == []
    page.close()
