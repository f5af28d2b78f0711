"""Reward kinds, tiers and milestones on the Dashboard's settings page (headless Chromium, framed by
a stand-in Saleor Dashboard): the merchant builds a ladder, sees the widget's text change as they
type, gets a wrong tier order named next to its field, and saves what the pipeline then pays."""

from __future__ import annotations

from decimal import Decimal

import pytest

from plugin.db import session_scope
from plugin.program.settings import Milestone, RewardSpec, Tier, load_program
from tests.admin.test_dashboard_browser import chromium, dashboard  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_merchant_builds_tiers_and_a_milestone_with_a_live_widget_preview(chromium, dashboard, shop):  # noqa: F811
    page, app, errors = dashboard.open(chromium, shop, "settings", viewport={"width": 960, "height": 1000})
    preview = app.locator(".widget-preview")
    preview.locator("#widget-preview-offer").filter(has_text="Give 10%, get $10").wait_for(timeout=10000)
    assert preview.locator("#widget-preview-progress").inner_text() == ""  # no ladder yet: no goal

    tiers = app.locator('[data-ladder="default_rewards.tiers"]')
    app.get_by_role("button", name="Add tier").first.click()
    app.get_by_role("button", name="Add tier").first.click()
    first, second = tiers.locator(".ladder-row").nth(0), tiers.locator(".ladder-row").nth(1)
    first.get_by_label("From friend no.").fill("6")
    first.get_by_label("Kind").select_option("STORE_CREDIT")
    first.get_by_label("Value").fill("20")
    second.get_by_label("From friend no.").fill("3")
    second.get_by_label("Value").fill("15")
    assert first.get_by_label("At most").is_hidden()  # only a commission has a cap

    app.locator("#save-settings").click()
    error = app.locator('[data-error-for="default_rewards.tiers.1.from"]')
    error.filter(has_text="must be larger than the one before (counts strictly increase)").wait_for(timeout=10000)
    assert second.get_by_label("From friend no.").get_attribute("aria-invalid") == "true"
    first.get_by_label("From friend no.").fill("3")
    first.get_by_label("Kind").select_option("FIXED")
    first.get_by_label("Value").fill("15")
    second.get_by_label("From friend no.").fill("6")
    second.get_by_label("Kind").select_option("STORE_CREDIT")
    second.get_by_label("Value").fill("20")

    app.get_by_role("button", name="Add milestone").first.click()
    milestone = app.locator('[data-ladder="default_rewards.milestones"] .ladder-row').nth(0)
    milestone.get_by_label("At friend no.").fill("5")
    milestone.get_by_label("Kind").select_option("STORE_CREDIT")
    milestone.get_by_label("Value").fill("50")

    progress = preview.locator("#widget-preview-progress")
    progress.filter(has_text="2 more friends to unlock $15").wait_for(timeout=10000)
    preview.locator("#widget-preview-rewarded").fill("3")
    progress.filter(has_text="2 more friends and you also get $50 store credit").wait_for(timeout=10000)
    assert preview.locator("#widget-preview-offer").inner_text() == "Give 10%, get $15"  # friend #4's tier
    preview.locator("#widget-preview-locale").select_option("ru")
    progress.filter(has_text="Ещё 2 друга — и вы дополнительно получите подарочную карту на 50\u00a0$").wait_for(
        timeout=10000
    )

    app.locator("#save-settings").click()
    app.locator("#settings-status").filter(has_text="Saved").wait_for(timeout=15000)
    with session_scope(shop.tenant_id()) as session:
        rewards = load_program(session, shop.tenant_id()).rewards_for("default-channel")
    assert rewards.tiers == (
        Tier(3, RewardSpec("FIXED", Decimal("15"))),
        Tier(6, RewardSpec("STORE_CREDIT", Decimal("20"))),
    )
    assert rewards.milestones == (Milestone(5, RewardSpec("STORE_CREDIT", Decimal("50"))),)
    assert errors == []
    page.close()
