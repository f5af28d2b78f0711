"""Webhook ingest with the real captured deliveries: verify, store once, acknowledge."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from plugin.db import session_scope
from plugin.tasks import Runner
from plugin.tenants.crypto import TokenBox
from plugin.tenants.models import Tenant
from plugin.webhooks.models import WebhookEvent
from tests.fixtures import CAPTURED_API_URL, CAPTURED_APP_ID, captured_jwks, load, post_headers, signed_deliveries


class RecordingRunner(Runner):
    def __init__(self):
        self.calls = []

    def enqueue(self, name, *args, countdown=0):
        self.calls.append((name, args))


@pytest.fixture
def captured_shop(app):
    """A tenant as if the captured Saleor had installed us: its URL, app id and JWKS."""
    runner = RecordingRunner()
    app.extensions["task_runner"] = runner
    with session_scope() as session:
        session.add(
            Tenant(
                saleor_api_url=CAPTURED_API_URL,
                domain="localhost:8000",
                app_id=CAPTURED_APP_ID,
                token_encrypted=TokenBox(app.config["SETTINGS"].secret_key).encrypt("t0ken"),
                jwks=captured_jwks(),
            )
        )
    return runner


def stored_events() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(WebhookEvent.id)))


def replay(client, delivery, body=None, headers=None):
    return client.post(
        delivery.path,
        data=delivery.body if body is None else body,
        headers=post_headers(delivery) if headers is None else headers,
    )


@pytest.mark.parametrize("delivery", [d for d in signed_deliveries() if d.event != "app_deleted"], ids=lambda d: d.name)
def test_real_order_delivery_is_stored_and_queued(client, captured_shop, delivery):
    response = replay(client, delivery)
    assert response.status_code == 200, response.json
    assert response.json == {"ok": True, "duplicate": False}
    with session_scope() as session:
        event = session.scalar(select(WebhookEvent))
        assert event.event_type == delivery.event
        assert event.order_id == delivery.payload["order"]["id"]
        assert event.body.encode() == delivery.body
        assert event.status == WebhookEvent.PENDING
    assert captured_shop.calls == [("process_event", (event.tenant_id, event.id))]


def test_redelivery_of_the_same_bytes_is_recognised(client, captured_shop):
    delivery = load("order_fully_paid__A__3.json")
    assert replay(client, delivery).json["duplicate"] is False
    for _ in range(3):
        response = replay(client, delivery)
        assert response.status_code == 200 and response.json["duplicate"] is True
    assert stored_events() == 1
    assert len(captured_shop.calls) == 1


def test_same_event_type_with_new_bytes_is_a_new_event(client, captured_shop):
    """ORDER_PAID and ORDER_FULLY_PAID for one order are different deliveries."""
    assert replay(client, load("order_paid__A__2.json")).status_code == 200
    assert replay(client, load("order_fully_paid__A__3.json")).status_code == 200
    assert stored_events() == 2


@pytest.mark.parametrize("position", [0, 100, -2])
def test_one_changed_byte_is_refused_and_nothing_stored(client, captured_shop, position):
    delivery = load("order_fully_paid__A__3.json")
    body = bytearray(delivery.body)
    body[position] = ord("X") if body[position] != ord("X") else ord("Y")
    response = replay(client, delivery, body=bytes(body))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "INVALID_SIGNATURE"
    assert stored_events() == 0 and captured_shop.calls == []


def test_unknown_tenant_is_refused(client, captured_shop):
    delivery = load("order_fully_paid__A__3.json")
    headers = post_headers(delivery) | {"Saleor-Api-Url": "https://other.example.com/graphql/"}
    response = replay(client, delivery, headers=headers)
    assert response.status_code == 401 and response.json["error"]["code"] == "UNKNOWN_TENANT"
    assert stored_events() == 0


@pytest.mark.parametrize("missing", ["Saleor-Signature", "Saleor-Event", "Saleor-Api-Url"])
def test_missing_headers_are_refused(client, captured_shop, missing):
    delivery = load("order_fully_paid__A__3.json")
    headers = {
        k: v for k, v in post_headers(delivery).items() if k.lower() not in {missing.lower(), "x-" + missing.lower()}
    }
    response = replay(client, delivery, headers=headers)
    assert response.status_code == 400 and response.json["error"]["code"] == "MISSING_HEADERS"
    assert stored_events() == 0


def test_oversized_body_is_refused_before_reading(client, captured_shop):
    delivery = load("order_fully_paid__A__3.json")
    response = replay(client, delivery, body=b"{" + b" " * (1024 * 1024) + b"}")
    assert response.status_code == 413
    assert response.json["error"]["code"] in {"PAYLOAD_TOO_LARGE", "REQUEST_ENTITY_TOO_LARGE"}
    assert stored_events() == 0


def test_event_for_the_wrong_endpoint_is_refused(client, captured_shop):
    delivery = load("app_deleted__I__1.json")
    response = client.post("/api/webhooks/saleor", data=delivery.body, headers=post_headers(delivery))
    assert response.status_code == 400
    assert stored_events() == 0


def test_trailing_slash_is_served_without_redirect(client, captured_shop):
    delivery = load("order_fully_paid__A__3.json")
    response = client.post(delivery.path + "/", data=delivery.body, headers=post_headers(delivery))
    assert response.status_code == 200


def _captured_tenant_at(app, saleor, token: str) -> None:
    """The captured shop (app id, JWKS), but living at the emulator's URL, so Saleor can be asked."""
    with session_scope() as session:
        tenant = session.scalar(select(Tenant))
        tenant.saleor_api_url = saleor.api_url
        tenant.token_encrypted = TokenBox(app.config["SETTINGS"].secret_key).encrypt(token)


def _replay_at(client, saleor, delivery):
    return client.post(
        delivery.path, data=delivery.body, headers={**post_headers(delivery), "Saleor-Api-Url": saleor.api_url}
    )


def test_real_app_deleted_removes_credentials_once_saleor_refuses_the_token(app, client, captured_shop, saleor):
    _captured_tenant_at(app, saleor, "a-token-saleor-no-longer-knows")
    response = _replay_at(client, saleor, load("app_deleted__I__1.json"))
    assert response.status_code == 200 and response.json == {"ok": True, "uninstalled": True}
    with session_scope() as session:
        tenant = session.scalar(select(Tenant))
        assert tenant.token_encrypted is None and tenant.uninstalled_at is not None
    assert [r.operation for r in saleor.requests] == ["AppId"], "Saleor was asked about our token"
    # After uninstall the deliveries still verify (JWKS kept) but nothing can call Saleor.
    assert _replay_at(client, saleor, load("order_fully_paid__A__3.json")).status_code == 200


def test_real_app_deleted_changes_nothing_while_saleor_still_takes_the_token(app, client, captured_shop, saleor):
    saleor.create_app("another-app")
    ours = saleor.create_app("referrals")
    assert ours.id == CAPTURED_APP_ID
    _captured_tenant_at(app, saleor, ours.token)
    response = _replay_at(client, saleor, load("app_deleted__I__1.json"))
    assert response.status_code == 200 and response.json == {"ok": True, "uninstalled": False}
    with session_scope() as session:
        assert session.scalar(select(Tenant)).is_installed


def test_app_deleted_answers_503_when_saleor_cannot_confirm(app, client, captured_shop, saleor):
    _captured_tenant_at(app, saleor, "a-token-saleor-no-longer-knows")
    saleor.faults.fail_next(10, status=503)
    response = _replay_at(client, saleor, load("app_deleted__I__1.json"))
    assert response.status_code == 503
    assert response.json["error"]["code"] == "SALEOR_UNREACHABLE"
    with session_scope() as session:
        assert session.scalar(select(Tenant)).is_installed


def test_get_is_not_allowed(client, captured_shop):
    response = client.get("/api/webhooks/saleor")
    assert response.status_code == 405
    assert response.is_json


def test_database_down_answers_503_so_saleor_retries(client, captured_shop, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import plugin.tenants.directory as directory

    def database_down(*_args):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database is restarting"))

    monkeypatch.setattr(directory, "session_scope", database_down)
    response = replay(client, load("order_fully_paid__A__3.json"))
    assert response.status_code == 503
    assert response.json["error"]["code"] == "STORAGE_UNAVAILABLE"
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_shop_removed_while_cached_is_refused_not_crashed(client, captured_shop):
    first, second = [d for d in signed_deliveries() if d.event == "order_created"][:2]
    assert replay(client, first).status_code == 200  # the shop is now cached in this process
    with session_scope() as session:
        session.delete(session.scalar(select(Tenant)))
    response = replay(client, second)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "UNKNOWN_TENANT"
    assert stored_events() == 0
