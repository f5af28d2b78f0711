"""The merchant's side of outbound webhooks: endpoints validated (a readable error changes
nothing), secrets shown once and rotated, the delivery log and manual redelivery."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from plugin.db import utcnow
from plugin.sweeper import sweep
from tests.admin.helpers import Admin
from tests.flows import make_advocate, referred_order
from tests.merchant_webhooks.conftest import add_endpoint, admin_of, deliveries, endpoint_row, stored_messages
from tests.merchant_webhooks.receiver import Receiver

PUBLIC = "https://93.184.216.34/hooks/referrals"  # a public address: validated, never called here


@pytest.fixture
def production_shop(saleor, make_live_server):
    """The production default: HTTPS on public addresses only."""
    server = make_live_server()
    result = saleor.install(f"{server.url}/api/manifest")
    assert result.response.status_code == 200
    return Admin(server.app.test_client(), saleor, result.app)


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://93.184.216.34/hooks", "must start with https://"),
        ("ftp://93.184.216.34/hooks", "must start with https://"),
        ("crm.example.com/hooks", "must start with https://"),
        ("https://127.0.0.1:8443/hooks", "must be a public address (loopback address refused)"),
        ("https://localhost/hooks", "must be a public address (loopback address refused)"),
        ("https://[::1]/hooks", "must be a public address (loopback address refused)"),
        ("https://0.0.0.0/hooks", "must be a public address (loopback address refused)"),
        ("https://10.0.0.7/hooks", "must be a public address (private address refused)"),
        ("https://192.168.1.20/hooks", "must be a public address (private address refused)"),
        ("https://100.64.0.1/hooks", "must be a public address (private address refused)"),
        ("https://169.254.169.254/latest/meta-data", "must be a public address (private address refused)"),
        ("https://[::ffff:127.0.0.1]/hooks", "must be a public address (loopback address refused)"),
        ("https://224.0.0.1/hooks", "must be a public address (reserved address refused)"),
        (
            "https://user:secret@93.184.216.34/hooks",
            "must not contain a user name or password (requests are signed instead)",
        ),
        ("https://93.184.216.34/hooks#frag", "must not contain a #fragment"),
        ("https://93.184.216.34/ho oks", "must not contain spaces, backslashes or control characters"),
        ("https://93.184.216.34:99999/hooks", "is not a valid URL"),
        ("", "is required: the HTTPS address of your system"),
    ],
)
def test_bad_urls_are_refused_readably_and_change_nothing(production_shop, url, message):
    response = production_shop.post("/api/admin/webhooks", {"url": url, "description": "CRM"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "INVALID_ENDPOINT"
    assert error["message"] == "Some fields of the endpoint are not valid; nothing was changed."
    assert error["fields"] == {"url": message}
    assert production_shop.get("/api/admin/webhooks").get_json()["endpoints"] == []
    assert production_shop.get("/api/admin/settings/history").get_json()["items"] == []


def test_bad_fields_are_named_and_a_bad_change_keeps_the_endpoint(production_shop):
    response = production_shop.post(
        "/api/admin/webhooks", {"url": PUBLIC, "events": ["order.created"], "description": "x" * 201, "secret": "mine"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"] == {
        "events": "must be null (every event) or a non-empty list of: advocate.enrolled, referral.attributed, "
        "referral.approved, referral.held, referral.rejected, referral.revoked, reward.issued, "
        "reward.revoked, reward.redeemed",
        "description": "must be text of at most 200 characters",
        "secret": "is not a setting of an endpoint",
    }
    created = production_shop.post("/api/admin/webhooks", {"url": PUBLIC, "events": ["reward.issued"]})
    assert created.status_code == 201
    endpoint = created.get_json()["endpoint"]
    secret = created.get_json()["secret"]
    assert secret.startswith("whsec_")
    assert secret[6:20] not in production_shop.get("/api/admin/webhooks").get_data(as_text=True)  # shown once only

    response = production_shop.client.patch(
        f"/api/admin/webhooks/{endpoint['id']}",
        headers=production_shop.headers(),
        json={"url": "https://10.0.0.7/hooks", "events": ["reward.redeemed"]},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"] == {"url": "must be a public address (private address refused)"}
    listed = production_shop.get("/api/admin/webhooks").get_json()["endpoints"]
    assert [(e["url"], e["events"]) for e in listed] == [(PUBLIC, ["reward.issued"])]
    duplicate = production_shop.post("/api/admin/webhooks", {"url": PUBLIC})
    assert duplicate.get_json()["error"]["fields"] == {"url": "is already an endpoint of this shop"}
    # Every accepted change is in the audit trail.
    history = production_shop.get("/api/admin/settings/history").get_json()["items"]
    assert history[0]["changes"] == {
        f"webhooks.{endpoint['id']}.url": {"from": None, "to": PUBLIC},
        f"webhooks.{endpoint['id']}.events": {"from": None, "to": ["reward.issued"]},
    }


def test_manual_redelivery_from_the_admin_api(webhook_shop, receiver):
    receiver.start()
    admin = admin_of(webhook_shop)
    endpoint = add_endpoint(webhook_shop, receiver)["endpoint"]
    make_advocate(webhook_shop.saleor)
    [first] = admin.get("/api/admin/webhooks/deliveries").get_json()["items"]
    assert (first["event_type"], first["status"], first["attempts"]) == ("advocate.enrolled", "delivered", 1)

    # Sent again on request: the same webhook-id and body (receivers deduplicate on the id).
    again = admin.post(f"/api/admin/webhooks/deliveries/{first['id']}/redeliver")
    assert again.status_code == 200
    data = again.get_json()
    assert (data["status"], data["attempts"]) == ("delivered", 2)
    assert [(a["status_code"], a["manual"]) for a in data["history"]] == [(200, False), (200, True)]
    assert data["payload"]["type"] == "advocate.enrolled"
    assert receiver.ids() == [first["webhook_id"], first["webhook_id"]]
    assert receiver.received[0].body == receiver.received[1].body

    # The receiver answers 500: the event waits; redelivering shows the answer, then succeeds once fixed.
    receiver.status = 500
    make_advocate(webhook_shop.saleor, "carol@example.com")
    [target] = admin.get("/api/admin/webhooks/deliveries", query_string={"status": "pending"}).get_json()["items"]
    assert (target["event_type"], target["attempts"], target["last_status_code"], target["last_error"]) == (
        "advocate.enrolled",
        1,
        500,
        "HTTP 500",
    )
    assert target["next_attempt_at"] is not None
    failed_again = admin.post(f"/api/admin/webhooks/deliveries/{target['id']}/redeliver").get_json()
    assert (failed_again["status"], failed_again["attempts"], failed_again["last_status_code"]) == ("pending", 2, 500)
    assert failed_again["history"][-1]["response_body"] == "no"
    receiver.status = 200
    fixed = admin.post(f"/api/admin/webhooks/deliveries/{target['id']}/redeliver").get_json()
    assert (fixed["status"], fixed["last_error"], fixed["next_attempt_at"]) == ("delivered", None, None)
    assert receiver.ids().count(target["webhook_id"]) == 1
    detail = admin.get(f"/api/admin/webhooks/deliveries/{target['id']}").get_json()
    assert [(a["status_code"], a["manual"]) for a in detail["history"]] == [(500, False), (500, True), (200, True)]

    # Not for a disabled endpoint, nor for another shop's (unknown) delivery.
    assert (
        admin.client.patch(
            f"/api/admin/webhooks/{endpoint['id']}", headers=admin.headers(), json={"enabled": False}
        ).status_code
        == 200
    )
    refused = admin.post(f"/api/admin/webhooks/deliveries/{first['id']}/redeliver")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "ENDPOINT_DISABLED"
    assert admin.post("/api/admin/webhooks/deliveries/999999/redeliver").status_code == 404


def test_rotated_secret_signs_alongside_the_old_one_for_a_day(webhook_shop, receiver):
    receiver.start()
    admin = admin_of(webhook_shop)
    created = add_endpoint(webhook_shop, receiver)
    old_secret = created["secret"]
    rotated = admin.post(f"/api/admin/webhooks/{created['endpoint']['id']}/rotate-secret").get_json()
    new_secret = rotated["secret"]
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    assert rotated["endpoint"]["previous_secret_until"] is not None

    receiver.secrets = [old_secret]  # a receiver not yet switched over still verifies
    make_advocate(webhook_shop.saleor)
    assert receiver.events() == ["advocate.enrolled"] and receiver.refused == []
    assert len(receiver.received[0].headers["webhook-signature"].split(" ")) == 2

    with time_machine.travel(utcnow() + timedelta(hours=25), tick=True):
        receiver.secrets = [new_secret]
        make_advocate(webhook_shop.saleor, "carol@example.com")
        assert len(receiver.received[-1].headers["webhook-signature"].split(" ")) == 1
        receiver.secrets = [old_secret]
        make_advocate(webhook_shop.saleor, "erin@example.com")
        assert receiver.refused == ["No matching signature found"]


def test_endpoint_disabled_after_a_day_of_failures_then_reenabled_with_its_events(webhook_shop):
    dead = Receiver()  # nothing listens on its port yet
    admin = admin_of(webhook_shop)
    saleor = webhook_shop.saleor
    with time_machine.travel(utcnow(), tick=True) as clock:
        created = add_endpoint(webhook_shop, dead)
        endpoint_id = created["endpoint"]["id"]
        make_advocate(saleor)
        [delivery] = deliveries()
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert delivery.last_error.startswith("ConnectionError: ")
        listed = admin.get("/api/admin/webhooks").get_json()["endpoints"][0]
        assert listed["enabled"] is True and listed["failing_since"] is not None

        with webhook_shop.flask_app.app_context():
            for _ in range(23 * 2):  # 23 hours: retried with backoff, still enabled
                clock.shift(timedelta(minutes=30))
                sweep()
            assert endpoint_row(endpoint_id).enabled is True
            for _ in range(2 * 2):
                clock.shift(timedelta(minutes=30))
                sweep()
        row = endpoint_row(endpoint_id)
        assert row.enabled is False
        assert row.consecutive_failures >= 5
        [delivery] = deliveries()
        assert delivery.status == "failed"
        assert delivery.attempts >= 12

        # The Dashboard's notice comes from this answer.
        listed = admin.get("/api/admin/webhooks").get_json()["endpoints"][0]
        assert listed["enabled"] is False
        assert listed["disabled_reason"].startswith(
            "Disabled automatically: every delivery attempt failed for 24 hours. Last error: ConnectionError: "
        )
        assert listed["deliveries"] == {"pending": 0, "failed": 1}

        # Events meanwhile are kept, not sent; re-enabling with resend_failed sends them all, once.
        referred_order(saleor, make_advocate(saleor, "carol@example.com"), email="dave@example.com")
        assert {d.status for d in deliveries()} == {"failed"}
        assert deliveries()[-1].last_error == "Not sent: the endpoint is disabled."
        dead.start()
        dead.secrets.append(created["secret"])
        response = admin.client.patch(
            f"/api/admin/webhooks/{endpoint_id}", headers=admin.headers(), json={"enabled": True, "resend_failed": True}
        )
        assert response.status_code == 200
        assert response.get_json()["resent"] == len(stored_messages()) == 7
        assert response.get_json()["endpoint"]["enabled"] is True
        clock.shift(timedelta(minutes=1))
        with webhook_shop.flask_app.app_context():
            sweep()
        assert sorted(dead.ids()) == sorted(m.msg_id for m in stored_messages())
        assert {d.status for d in deliveries()} == {"delivered"}
        dead.stop()
