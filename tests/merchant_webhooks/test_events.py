"""Events reach the merchant's system signed per Standard Webhooks, with the documented payloads,
written in the same transaction as the change they describe."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from plugin.db import session_scope
from plugin.ledger import move_referral
from plugin.merchant_webhooks.delivery import redeliver
from plugin.merchant_webhooks.models import WebhookAttempt, WebhookMessage
from plugin.referrals.models import Referral
from tests.flows import coupons_for, make_advocate, referral_for, referred_order
from tests.merchant_webhooks.conftest import add_endpoint, deliveries, stored_messages
from tests.merchant_webhooks.receiver import Receiver


def test_a_referred_order_reaches_the_receiver_signed_and_complete(webhook_shop, receiver):
    receiver.start()
    add_endpoint(webhook_shop, receiver, description="CRM")
    saleor = webhook_shop.saleor
    code = make_advocate(saleor, "Alice@Example.com")
    order = referred_order(saleor, code, email="bob@example.com", total="40.00")

    # Every request verified with the standardwebhooks library against the endpoint's secret.
    assert receiver.refused == []
    assert receiver.events() == [
        "advocate.enrolled",
        "advocate.enrolled",
        "referral.attributed",
        "referral.approved",
        "reward.issued",
        "reward.issued",
    ]
    stored = {m.msg_id: m for m in stored_messages()}
    for got in receiver.received:
        assert got.body.decode() == stored[got.webhook_id].body, "sent byte for byte as stored"
        assert got.headers["webhook-signature"].startswith("v1,")
        assert got.headers["content-type"] == "application/json"

    alice = receiver.of_type("advocate.enrolled")[0].payload["data"]["advocate"]
    assert alice["email"] == "Alice@Example.com"  # as the customer typed it, for the CRM
    assert alice["code"] == code
    assert alice["referral_link"] == f"{webhook_shop.server.url}/r/{code}"
    assert alice["channel"] == "default-channel"

    referral = referral_for(order["id"])
    attributed = receiver.of_type("referral.attributed")[0].payload
    assert attributed["type"] == "referral.attributed"
    assert attributed["timestamp"].endswith("Z")
    data = attributed["data"]["referral"]
    assert data["id"] == referral.id
    assert data["state"] == "pending" and data["previous_state"] is None
    assert data["order"] == {
        "id": order["id"],
        "number": order["number"],
        "channel": "default-channel",
        "currency": "USD",
        "total": "40",
    }
    assert data["friend"] == {"email": "bob@example.com"}
    assert data["advocate"] == {"id": alice["id"], "code": code, "email": "Alice@Example.com"}
    approved = receiver.of_type("referral.approved")[0].payload["data"]["referral"]
    assert (approved["state"], approved["previous_state"], approved["decided_by"]) == ("approved", "pending", "rule")

    rewards = {
        r.payload["data"]["reward"]["recipient"]: r.payload["data"]["reward"] for r in receiver.of_type("reward.issued")
    }
    by_purpose = {c.purpose: c for c in coupons_for(order["id"])}
    assert rewards["advocate"]["code"] == by_purpose["referrer_reward"].code
    assert rewards["advocate"]["recipient_email"] == "Alice@Example.com"
    assert rewards["friend"]["code"] == by_purpose["friend_reward"].code
    assert rewards["friend"]["recipient_email"] == "bob@example.com"
    assert rewards["advocate"]["saleor_voucher_id"] == by_purpose["referrer_reward"].saleor_voucher_id
    assert (rewards["advocate"]["value_type"], rewards["advocate"]["value"], rewards["advocate"]["currency"]) == (
        "FIXED",
        "10",
        "USD",
    )
    assert rewards["advocate"]["referral_id"] == referral.id
    assert rewards["advocate"]["order_id"] == order["id"]
    assert all(d.status == "delivered" and d.attempts == 1 for d in deliveries())


def test_refund_and_redemption_events(webhook_shop, receiver):
    receiver.start()
    saleor = webhook_shop.saleor
    code = make_advocate(saleor)
    order = referred_order(saleor, code, email="bob@example.com")
    add_endpoint(webhook_shop, receiver, events=["referral.revoked", "reward.revoked", "reward.redeemed"])
    reward = next(c for c in coupons_for(order["id"]) if c.purpose == "referrer_reward")

    # Alice spends her reward, then Bob's order is refunded: one code is gone, the other is taken back.
    spend = saleor.create_order("alice@example.com", first_name="Alice", voucher_code=reward.code, paid=True)
    saleor.checkout_complete(spend)
    saleor.refund(order)

    assert receiver.events() == ["reward.redeemed", "referral.revoked", "reward.revoked"]
    redeemed = receiver.of_type("reward.redeemed")[0].payload["data"]["reward"]
    assert (redeemed["code"], redeemed["previous_state"], redeemed["redeemed_value"]) == (reward.code, "issued", "10")
    revoked = receiver.of_type("referral.revoked")[0].payload["data"]["referral"]
    assert revoked["reason"] == "The friend's order was fully refunded."
    friend_reward = receiver.of_type("reward.revoked")[0].payload["data"]["reward"]
    assert friend_reward["recipient"] == "friend"


def test_no_endpoint_no_rows(webhook_shop):
    code = make_advocate(webhook_shop.saleor)
    referred_order(webhook_shop.saleor, code)
    assert stored_messages() == []


def test_an_event_exists_only_if_its_change_was_committed(webhook_shop, receiver):
    receiver.start()
    add_endpoint(webhook_shop, receiver, events=["referral.rejected"])
    saleor = webhook_shop.saleor
    order = referred_order(saleor, make_advocate(saleor))
    referral_id = referral_for(order["id"]).id

    with pytest.raises(RuntimeError):
        with session_scope(webhook_shop.tenant_id()) as session:
            referral = session.get(Referral, referral_id)
            move_referral(session, referral, Referral.REJECTED, "Rejected by the merchant.", actor="merchant:x")
            assert session.scalar(select(WebhookMessage.event_type)) == "referral.rejected"  # in the transaction
            raise RuntimeError("the change fails after the event was written")
    assert stored_messages() == [] and receiver.received == []
    assert referral_for(order["id"]).state == "issued"

    with webhook_shop.flask_app.app_context(), session_scope(webhook_shop.tenant_id()) as session:
        referral = session.get(Referral, referral_id)
        move_referral(session, referral, Referral.REJECTED, "Rejected by the merchant.", actor="merchant:x")
    assert [m.event_type for m in stored_messages()] == ["referral.rejected"]
    payload = json.loads(stored_messages()[0].body)
    assert payload["data"]["referral"]["decided_by"] == "merchant"  # the staff e-mail stays in our audit trail
    assert receiver.events() == ["referral.rejected"]


def test_the_documented_raw_hmac_steps_verify_our_signature(webhook_shop, receiver):
    """docs/ADMIN_API.md "Verifying a request", by hand: the same answer as the library."""
    import base64
    import hashlib
    import hmac
    import time

    def verify(secret: str, headers: dict, body: bytes) -> bool:  # as in the docs
        key = base64.b64decode(secret.removeprefix("whsec_"))
        msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
        if abs(time.time() - int(ts)) > 300:
            return False
        expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
        return any(
            hmac.compare_digest(expected, sig.split(",", 1)[1])
            for sig in headers["webhook-signature"].split()
            if sig.startswith("v1,")
        )

    receiver.start()
    secret = add_endpoint(webhook_shop, receiver)["secret"]
    make_advocate(webhook_shop.saleor)
    [got] = receiver.received
    assert verify(secret, got.headers, got.body) is True
    assert verify(secret, got.headers, got.body.replace(b"alice", b"mallory")) is False
    assert verify("whsec_" + base64.b64encode(b"x" * 32).decode(), got.headers, got.body) is False


def test_erasing_a_person_removes_their_email_from_stored_events(webhook_shop, receiver):
    from plugin.privacy.service import erase

    receiver.start()
    add_endpoint(webhook_shop, receiver)
    make_advocate(webhook_shop.saleor, "alice@example.com")
    assert "alice@example.com" in stored_messages()[0].body
    with webhook_shop.flask_app.app_context():
        report = erase(
            webhook_shop.tenant_id(),
            "alice@example.com",
            secret=webhook_shop.flask_app.config["SETTINGS"].secret_key,
            saleor=lambda: None,
        )
    body = json.loads(stored_messages()[0].body)
    assert body["data"]["advocate"]["email"] == report.pseudonym
    assert "alice@example.com" not in stored_messages()[0].body


def test_redirects_are_not_followed_and_long_answers_are_cut(webhook_shop, receiver):
    receiver.start()
    target = Receiver().start()  # where the redirect points: it must never be called
    target.secrets = receiver.secrets
    add_endpoint(webhook_shop, receiver)
    receiver.status, receiver.headers = 302, {"location": target.url}
    make_advocate(webhook_shop.saleor)
    [delivery] = deliveries()
    assert (delivery.status, delivery.last_status_code) == ("pending", None)
    assert delivery.last_error == "HTTP 302 redirect refused: redirects are not followed, configure the final URL."
    assert target.received == [] and target.refused == []

    receiver.status, receiver.headers, receiver.answer = 200, {}, b"x" * 100_000
    with webhook_shop.flask_app.app_context():
        assert redeliver(webhook_shop.tenant_id(), delivery.id) == "delivered"
    with session_scope() as session:
        attempt = session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id.desc())).first()
        assert (attempt.status_code, attempt.error, attempt.response_body) == (200, None, "x" * 1024)
    target.stop()
