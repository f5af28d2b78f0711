"""The Dashboard's previews follow the reward kinds: the widget's text for N rewarded friends
(POST /api/admin/widget-preview) and the reward e-mails of store credit and commission."""

from __future__ import annotations

from tests.admin.test_settings import admin  # noqa: F401 - the signed-in merchant fixture

BASE = {
    "referrer": {"type": "FIXED", "value": "10"},
    "friend": {"type": "PERCENTAGE", "value": "10"},
    "min_order": "0",
    "expiry_days": 90,
}  # a PUT or a preview replaces the whole section it names
LADDER = {
    "default_rewards": {
        **BASE,
        "referrer": {"type": "COMMISSION", "value": "10", "cap": "15"},
        "tiers": [{"from": 3, "reward": {"type": "FIXED", "value": "15"}}],
        "milestones": [{"at": 5, "reward": {"type": "STORE_CREDIT", "value": "50"}}],
    }
}


def test_widget_preview_follows_the_count_and_the_language(admin):  # noqa: F811
    def preview(**body):
        response = admin.post("/api/admin/widget-preview", {"settings": LADDER, **body})
        assert response.status_code == 200, response.data
        return response.get_json()

    first = preview(rewarded=0)
    assert (first["offer"], first["progress"], first["goal"]) == (
        "Give 10%, get 10% of your friend's order (up to $15)",
        "2 more friends to unlock $15",
        [0, 2],
    )
    third = preview(rewarded=2)
    assert (third["offer"], third["progress"], third["goal"]) == (
        "Give 10%, get $15",
        "3 more friends and you also get $50 store credit",
        [2, 5],
    )
    assert preview(rewarded=5)["goal"] is None and preview(rewarded=5)["progress"] == ""
    pln = preview(rewarded=4, locale="pl", channel="channel-pln")
    assert pln["progress"] == "Jeszcze 1 znajomy, a dodatkowo otrzymasz kartę podarunkową o wartości 50\u00a0zł"
    bad = admin.post("/api/admin/widget-preview", {"rewarded": -1})
    assert bad.status_code == 400 and bad.get_json()["error"]["fields"] == {
        "rewarded": "must be a whole number from 0 to 10000"
    }
    invalid = admin.post(
        "/api/admin/widget-preview",
        {"settings": {"default_rewards": {**BASE, "tiers": [{"from": 1, "reward": {"type": "FIXED", "value": "5"}}]}}},
    )
    assert invalid.get_json()["error"]["fields"] == {
        "default_rewards.tiers.0.from": "must be a whole number from 2 to 10000"
    }


def test_email_preview_of_a_commission_and_of_store_credit(admin):  # noqa: F811
    commission = admin.post("/api/admin/email-preview", {"kind": "reward.referrer", "settings": LADDER}).get_json()
    assert commission["subject"] == "You earned $8 store credit at Emulated Shop"
    assert "Gift card code: THANKS-EXAMPLE" in commission["text"]
    assert "10% of your friend's order ($80 without shipping and tax)." in commission["text"]
    credit = admin.post(
        "/api/admin/email-preview",
        {
            "kind": "reward.friend",
            "settings": {"default_rewards": {**BASE, "friend": {"type": "STORE_CREDIT", "value": "20"}}},
        },
    ).get_json()
    assert credit["subject"] == "Your gift card for Emulated Shop"
    assert "For your next one you get $20 store credit." in credit["text"]
