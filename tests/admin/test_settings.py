"""Merchants change the program through the admin API: validated per field, stored per shop, audited."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from plugin.admin import channels as shop_channels
from plugin.db import session_scope
from plugin.program.models import SettingsChange
from plugin.program.settings import load_program
from tests.admin.helpers import Admin, add_tenant

URL = "/api/admin/settings"


@pytest.fixture
def admin(app, client, saleor):
    shop_channels.forget()
    saleor_app = saleor.create_app("saleor.app.referrals")
    admin = Admin(client, saleor, saleor_app, email="owner@shop.example")
    admin.tenant_id = add_tenant(app, saleor, saleor_app)
    return admin


def _settings(admin):
    response = admin.get(URL)
    assert response.status_code == 200, response.data
    return response.get_json()


def _errors(response):
    assert response.status_code == 400, response.data
    body = response.get_json()["error"]
    assert body["code"] == "INVALID_SETTINGS"
    return body["fields"]


def _audit_count(tenant_id):
    with session_scope(tenant_id) as session:
        return session.scalar(select(func.count(SettingsChange.id)))


def test_get_shows_defaults_and_the_shops_channels(admin):
    data = _settings(admin)
    assert data["version"] == 0
    assert data["settings"]["trigger_status"] == "FULLY_PAID"
    assert data["channels_source"] == "saleor"
    assert {(c["slug"], c["currency"]) for c in data["channels"]} == {
        ("default-channel", "USD"),
        ("channel-pln", "PLN"),
    }
    assert data["options"]["trigger_statuses"] == ["FULLY_PAID", "PAID", "FULFILLED"]


def test_the_issue_example_error(admin):
    settings = _settings(admin)["settings"]
    settings["channels"] = {"default-channel": {"referrer": {"type": "FIXED", "value": "-5"}}}
    fields = _errors(admin.put(URL, {"settings": settings}))
    assert fields == {"channels.default-channel.referrer.value": "must be a number > 0"}
    assert _settings(admin)["version"] == 0 and _audit_count(admin.tenant_id) == 0


@pytest.mark.parametrize(
    "change, path, message",
    [
        (
            {
                "default_rewards": {
                    "referrer": {"type": "PERCENTAGE", "value": "150"},
                    "friend": {"type": "FIXED", "value": "5"},
                    "min_order": "0",
                    "expiry_days": 30,
                }
            },
            "default_rewards.referrer.value",
            "must be a number > 0 and at most 100",
        ),
        (
            {
                "default_rewards": {
                    "referrer": {"type": "COINS", "value": "5"},
                    "friend": {"type": "FIXED", "value": "5"},
                    "min_order": "0",
                    "expiry_days": 30,
                }
            },
            "default_rewards.referrer.type",
            "must be one of FIXED, PERCENTAGE, FREE_SHIPPING, STORE_CREDIT, COMMISSION",
        ),
        (
            {"channels": {"default-channel": {"referrer": {"type": "FIXED", "value": "10.005"}}}},
            "channels.default-channel.referrer.value",
            "has too many decimal places (at most 2 for USD)",
        ),
        (
            {"channels": {"no-such-channel": {"min_order": "5"}}},
            "channels.no-such-channel",
            "is not a channel of this shop",
        ),
        (
            {"channels": {"channel-pln": {"min_order": "abc"}}},
            "channels.channel-pln.min_order",
            "must be a number >= 0",
        ),
        ({"trigger_status": "SHIPPED"}, "trigger_status", "must be one of FULLY_PAID, PAID, FULFILLED"),
        ({"hold_days": 400}, "hold_days", "must be a whole number from 0 to 365"),
        (
            {"caps": {"rewards_per_advocate_30d": 0, "claims_per_code_per_day": 20}},
            "caps.rewards_per_advocate_30d",
            "must be a whole number from 1 to 1000",
        ),
        ({"storefront_url": "javascript:alert(1)"}, "storefront_url", "must be an absolute http:// or https:// URL"),
        (
            {"storefront_url_template": "https://shop.example.com/cart"},
            "storefront_url_template",
            "must contain {code}, where the coupon code goes",
        ),
        (
            {"storefront_url_template": "https://shop.example.com/?c={code}&x={secret}"},
            "storefront_url_template",
            "unknown placeholder {secret}; use {code}, {referral_code}",
        ),
        (
            {"storefront_origins": ["https://shop.example.com/path"]},
            "storefront_origins.0",
            "must be an origin like https://shop.example.com (scheme and host, no path)",
        ),
        (
            {"email": {"sender": "not an address", "reply_to": "", "subjects": {}, "intros": {}}},
            "email.sender",
            "must be an e-mail address, optionally with a name: Shop <shop@example.com>",
        ),
        (
            {"email": {"sender": "", "reply_to": "", "subjects": {"invite": "Hi {name}"}, "intros": {}}},
            "email.subjects.invite",
            "unknown placeholder {name}; use {first_name}, {friend_offer}, {referrer_reward}, {shop}",
        ),
        (
            {"email": {"sender": "", "reply_to": "", "subjects": {"invite": "Line\nbreak"}, "intros": {}}},
            "email.subjects.invite",
            "must be a single line",
        ),
        ({"languages": []}, "languages", "choose at least one language"),
        ({"languages": ["en", "de"]}, "languages.1", "is not a supported language (en, ru, pl, lv)"),
        ({"languages": ["ru"]}, "default_locale", "must be one of the chosen languages"),
        (
            {"fraud": {"rules": {"same_household": "explode"}, "coupon_site_domains": []}},
            "fraud.rules.same_household",
            "must be one of allow, flag, hold, block",
        ),
        (
            {"messages": {"friend_reminder_days": 0}},
            "messages.friend_reminder_days",
            "must be a whole number from 1 to 30",
        ),
        (
            {"messages": {"friend_reminder_days": 14}},
            "messages.friend_reminder_days",
            "must be fewer than the days the friend's code lasts (friend_offer.expiry_days: 14)",
        ),
        ({"messages": {"updates": {"held": "no"}}}, "messages.updates.held", "must be true or false"),
        (
            {"messages": {"updates": {"weekly": True}}},
            "messages.updates.weekly",
            "is not a setting (counted, held, progress)",
        ),
        ({"colour": "red"}, "colour", "is not a setting"),
        ({"enabled": "yes"}, "enabled", "must be true or false"),
    ],
)
def test_invalid_fields_are_named(admin, change, path, message):
    fields = _errors(admin.put(URL, change))
    assert fields.get(path) == message, fields
    assert _settings(admin)["version"] == 0


@pytest.mark.parametrize(
    "ab_test, path",
    [
        ({"enabled": True, "variants": [{"name": "only", "weight": 1}], "holdout_percent": 0}, "ab_test.variants"),
        (
            {"enabled": True, "variants": [{"name": f"v{i}", "weight": 1} for i in range(5)], "holdout_percent": 0},
            "ab_test.variants",
        ),
        (
            {
                "enabled": True,
                "variants": [{"name": "a", "weight": 1}, {"name": "a", "weight": 1}],
                "holdout_percent": 0,
            },
            "ab_test.variants.1.name",
        ),
        (
            {
                "enabled": True,
                "variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 1}],
                "holdout_percent": 0,
            },
            "ab_test.variants.0.weight",
        ),
        (
            {
                "enabled": True,
                "variants": [{"name": "a", "weight": 1}, {"name": "holdout", "weight": 1}],
                "holdout_percent": 0,
            },
            "ab_test.variants.1.name",
        ),
        (
            {
                "enabled": True,
                "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}],
                "holdout_percent": 80,
            },
            "ab_test.holdout_percent",
        ),
        (
            {
                "enabled": True,
                "variants": [
                    {"name": "a", "weight": 1},
                    {"name": "b", "weight": 1, "referrer": {"type": "PERCENTAGE", "value": "101"}},
                ],
                "holdout_percent": 0,
            },
            "ab_test.variants.1.referrer.value",
        ),
    ],
)
def test_ab_test_validation(admin, ab_test, path):
    assert path in _errors(admin.put(URL, {"ab_test": ab_test}))


def test_saving_stores_audits_and_drives_the_program(admin):
    data = _settings(admin)
    settings = data["settings"]
    settings["channels"] = {"default-channel": {"referrer": {"type": "FIXED", "value": "15"}, "min_order": "25"}}
    settings["hold_days"] = 14
    settings["email"]["subjects"]["invite"] = "Thanks {first_name}!"
    response = admin.put(URL, {"settings": settings, "version": data["version"]})
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert body["version"] == 1
    assert set(body["changed"]) == {"channels.default-channel", "hold_days", "email.subjects.invite"}

    with session_scope(admin.tenant_id) as session:
        program = load_program(session, admin.tenant_id)
        change = session.scalar(select(SettingsChange))
    rewards = program.rewards_for("default-channel")
    assert (rewards.referrer.type, rewards.referrer.value, rewards.min_order) == ("FIXED", Decimal("15"), Decimal("25"))
    assert program.rewards_for("channel-pln").referrer.value == Decimal("10")  # still the default
    assert program.hold_days == 14
    assert change.actor == "owner@shop.example"
    assert change.changes["hold_days"] == {"from": 0, "to": 14}

    history = admin.get(URL + "/history").get_json()["items"]
    assert history[0]["actor"] == "owner@shop.example" and "hold_days" in history[0]["changes"]


def test_saving_the_same_settings_again_records_nothing(admin):
    settings = _settings(admin)["settings"]
    settings["hold_days"] = 3
    assert admin.put(URL, settings).status_code == 200
    again = admin.put(URL, settings)
    assert again.status_code == 200 and again.get_json()["changed"] == []
    assert _audit_count(admin.tenant_id) == 1


def test_a_partial_put_keeps_the_other_sections(admin):
    assert admin.put(URL, {"hold_days": 5}).status_code == 200
    assert admin.put(URL, {"storefront_url": "https://shop.example.com/"}).status_code == 200
    settings = _settings(admin)["settings"]
    assert settings["hold_days"] == 5 and settings["storefront_url"] == "https://shop.example.com/"


def test_a_stale_version_is_a_conflict(admin):
    assert admin.put(URL, {"settings": {"hold_days": 1}, "version": 0}).status_code == 200
    response = admin.put(URL, {"settings": {"hold_days": 2}, "version": 0})
    assert response.status_code == 409
    assert response.get_json()["error"]["current_version"] == 1
    assert _settings(admin)["settings"]["hold_days"] == 1


def test_settings_are_per_shop(app, client, admin):
    from tests.saleor_emulator import SaleorEmulator

    assert admin.put(URL, {"hold_days": 9}).status_code == 200
    with SaleorEmulator() as other:
        other_app = other.create_app("saleor.app.referrals")
        add_tenant(app, other, other_app)
        other_admin = Admin(client, other, other_app)
        assert _settings(other_admin)["settings"]["hold_days"] == 0


def test_channels_fall_back_to_what_the_app_has_seen_when_saleor_is_down(admin):
    shop_channels.forget()
    admin.saleor.stop()
    data = admin.client.get(URL, headers=admin.headers()).get_json()
    assert data["channels_source"] == "local"
    # Without Saleor's channel list the slug cannot be checked, but the values still are.
    assert (
        admin.client.put(
            URL, headers=admin.headers(), json={"channels": {"some-channel": {"min_order": "5"}}}
        ).status_code
        == 200
    )


def test_email_preview_uses_the_unsaved_texts_and_escapes_them(admin):
    response = admin.post(
        "/api/admin/email-preview",
        {
            "kind": "reward.referrer",
            "locale": "en",
            "settings": {
                "email": {
                    "sender": "Shop <shop@example.com>",
                    "reply_to": "",
                    "subjects": {"reward.referrer": "{first_name}, you earned {value}"},
                    "intros": {"reward.referrer": "Thanks from <b>us</b> at {shop}"},
                }
            },
        },
    )
    assert response.status_code == 200, response.data
    preview = response.get_json()
    assert preview["subject"] == "Anna, you earned $10"
    assert "Thanks from <b>us</b> at Emulated Shop" in preview["text"]
    assert "Thanks from &lt;b&gt;us&lt;/b&gt;" in preview["html"]
    assert "THANKS-EXAMPLE" in preview["text"]
    assert _settings(admin)["version"] == 0  # a preview stores nothing


def test_email_preview_reports_invalid_texts(admin):
    response = admin.post(
        "/api/admin/email-preview", {"kind": "invite", "settings": {"email": {"subjects": {"invite": "{oops"}}}}
    )
    assert "email.subjects.invite" in _errors(response)


def test_intro_reaches_the_real_invite_email(admin):
    """What the preview shows is what customers get: the saved intro is in the queued invite."""
    from plugin.mail.compose import queue_invite
    from plugin.mail.models import OutboundEmail
    from plugin.referrals.models import Advocate
    from plugin.tenants.models import Tenant

    assert (
        admin.put(
            URL,
            {"email": {"sender": "", "reply_to": "", "subjects": {}, "intros": {"invite": "Hello from the owner."}}},
        ).status_code
        == 200
    )
    with session_scope(admin.tenant_id) as session, admin.client.application.test_request_context():
        advocate = Advocate(
            tenant_id=admin.tenant_id,
            email="a@example.com",
            contact_email="a@example.com",
            code="ANNA7K2",
            channel_slug="default-channel",
            currency="USD",
        )
        session.add(advocate)
        session.flush()
        queue_invite(session, session.get(Tenant, admin.tenant_id), advocate, load_program(session, admin.tenant_id))
        email = session.scalar(select(OutboundEmail))
        assert "Hello from the owner." in email.text_body


def test_widget_texts_are_stored_per_language(admin):
    response = admin.put(
        URL,
        {"widget": {"title": {"pl": "Poleć nas"}, "texts": {"share_text": {"pl": "Zniżka {friend_offer} w {shop}:"}}}},
    )
    assert response.status_code == 200, response.data
    data = _settings(admin)
    assert data["settings"]["widget"]["title"] == {"pl": "Poleć nas"}
    assert data["settings"]["widget"]["texts"]["share_text"] == {"pl": "Zniżka {friend_offer} w {shop}:"}
    assert data["options"]["widget_texts"]["en"]["share_text"].startswith("I'm giving you")
    bad = _errors(admin.put(URL, {"widget": {"title": {"de": "Hallo"}, "texts": {}}}))
    assert bad == {"widget.title.de": "is not a supported language (en, ru, pl, lv)"}


def test_any_json_gets_an_answer_never_a_500(admin):
    """Whatever a client sends (wrong types anywhere), the answer is 200 or a 400 naming fields."""
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings
    from hypothesis import strategies as st

    from plugin.program.settings import DEFAULTS

    scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=True) | st.text(max_size=8)
    json_values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=8,
    )
    bodies = st.dictionaries(st.sampled_from(sorted(DEFAULTS)), json_values, min_size=1, max_size=3)

    @hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bodies)
    def check(body):
        response = admin.client.put(
            URL, headers=admin.headers(), data=json.dumps(body), content_type="application/json"
        )
        assert response.status_code in (200, 400), (body, response.data)
        if response.status_code == 400:
            assert response.get_json()["error"]["fields"]

    check()
