"""Saleor's side of the app: webhooks and the install call, with malformed, hostile and forged input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.fuzz.conftest import (
    FUZZ,
    dumps,
    header_text,
    hostile_text,
    json_values,
    signed_headers,
    unchanged_unless_accepted,
)

ORDER_EVENTS = [
    "order_created",
    "order_paid",
    "order_fully_paid",
    "order_updated",
    "order_cancelled",
    "order_refunded",
    "order_fully_refunded",
    "order_fulfilled",
]
WEBHOOK_PATHS = ["/api/webhooks/saleor", "/api/webhooks/app-deleted"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def a_real_payload(fuzz_shop) -> bytes:
    order = fuzz_shop.saleor.create_order(
        "bob@example.com", first_name="Bob", paid=True, metadata={"referral_code": fuzz_shop.advocate_code}
    )
    delivery = fuzz_shop.saleor.mark_as_paid(order, deliver=False)[0]
    return delivery.body


@FUZZ
@given(
    path=st.sampled_from(WEBHOOK_PATHS),
    body=st.binary(max_size=2000) | json_values.map(dumps),
    api_url=st.none() | header_text(),
    event=st.none() | st.sampled_from(ORDER_EVENTS + ["app_deleted"]) | header_text(),
    signature=st.none() | header_text(400),
    content_type=st.sampled_from(["application/json", "text/plain", ""]),
)
def test_unsigned_garbage_is_refused_without_a_trace(fuzz_shop, path, body, api_url, event, signature, content_type):
    headers = {"Content-Type": content_type}
    for name, value in (("Saleor-Api-Url", api_url), ("Saleor-Event", event), ("Saleor-Signature", signature)):
        if value is not None:
            headers[name] = value
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.post(path, data=body, headers=headers)
        responses.append(response)
    assert response.status_code in (400, 401, 413), response.get_data(as_text=True)
    assert response.is_json


def post_signed(fuzz_shop, body: bytes, event: str):
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.post(
            "/api/webhooks/saleor", data=body, headers=signed_headers(fuzz_shop.saleor, body, event)
        )
        responses.append(response)
    return response


def stored_event(body: bytes):
    from plugin.db import session_scope
    from plugin.webhooks.models import WebhookEvent

    with session_scope() as session:
        return session.scalar(select(WebhookEvent).where(WebhookEvent.body_sha256 == hashlib.sha256(body).hexdigest()))


@FUZZ
@given(payload=json_values, event=st.sampled_from(ORDER_EVENTS))
def test_signed_nonsense_is_refused_or_stored(fuzz_shop, payload, event):
    """A genuine signature over nonsense JSON: a clear 4xx, or acknowledged and stored."""
    body = dumps(payload)
    response = post_signed(fuzz_shop, body, event)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 200:
        assert stored_event(body) is not None


order_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": hostile_text(60),
        "number": json_values,
        "userEmail": hostile_text(80),
        "user": json_values,
        "status": hostile_text(20),
        "chargeStatus": st.sampled_from(["FULL", "NONE", "PARTIAL", "OVERCHARGED"]) | hostile_text(10),
        "isPaid": json_values,
        "total": json_values,
        "totalCharged": json_values,
        "totalRefunded": json_values,
        "channel": json_values,
        "metadata": json_values,
        "voucherCode": hostile_text(40),
        "shippingAddress": json_values,
        "languageCodeEnum": hostile_text(10),
        "created": hostile_text(40),
        "checkoutId": hostile_text(40),
    },
)


def shaped_order(order: dict) -> bytes:
    order.setdefault("id", "T3JkZXI6ZnV6eg==")
    return dumps({"__typename": "OrderFullyPaid", "issuedAt": "2026-01-01T00:00:00+00:00", "order": order})


@FUZZ
@given(order=order_fields, event=st.sampled_from(ORDER_EVENTS))
def test_signed_orders_with_hostile_fields_are_answered_without_a_5xx(fuzz_shop, order, event):
    response = post_signed(fuzz_shop, shaped_order(order), event)
    assert response.status_code in (200, 400), response.get_data(as_text=True)


@settings(FUZZ)
@given(order=order_fields, event=st.sampled_from(ORDER_EVENTS))
def test_signed_orders_with_hostile_fields_are_processed_to_the_end(fuzz_shop, order, event):
    from plugin.webhooks.models import WebhookEvent

    body = shaped_order(order)
    if post_signed(fuzz_shop, body, event).status_code == 200:
        stored = stored_event(body)
        assert stored.status == WebhookEvent.DONE, (stored.status, stored.last_error)


def test_a_signed_order_id_with_a_nul_character_is_refused(fuzz_shop):
    response = post_signed(fuzz_shop, shaped_order({"id": "T3Jk\x00ZXI6"}), "order_fully_paid")
    assert response.status_code == 400


# -- forged signatures ----------------------------------------------------------------------------


def _forgeries(saleor, body: bytes) -> dict[str, tuple[dict, bytes]]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from tests.saleor_emulator.signing import SigningKey, sign_detached_jws

    def header(**fields) -> str:
        base = {"alg": "RS256", "b64": False, "crit": ["b64"], "kid": saleor.key.kid, "typ": "JWT"}
        base.update(fields)
        return b64(
            json.dumps({k: v for k, v in base.items() if v is not None}, separators=(",", ":"), sort_keys=True).encode()
        )

    def rs256(key, head: str, payload: bytes) -> str:
        return b64(key.private_key.sign(head.encode() + b"." + payload, padding.PKCS1v15(), hashes.SHA256()))

    stranger = SigningKey()
    none_head = header(alg="none")
    hs_head = header(alg="HS256")
    attached_head = header(b64=None, crit=None)
    b64_true_head = header(b64=True)
    ps_head = header(alg="PS256")
    hs_sig = b64(hmac.new(saleor.key.public_pem, hs_head.encode() + b"." + body, hashlib.sha256).digest())
    return {
        "alg none": (none_head + "..", body),
        "HS256 keyed with the public key": (f"{hs_head}..{hs_sig}", body),
        "right key, unknown kid": (
            f"{header(kid='not-a-known-kid')}..{rs256(saleor.key, header(kid='not-a-known-kid'), body)}",
            body,
        ),
        "another key, the served kid": (f"{header()}..{rs256(stranger, header(), body)}", body),
        "signature of another body": (sign_detached_jws(body + b" ", saleor.key), body),
        "attached JWS": (f"{attached_head}.{b64(body)}.{rs256(saleor.key, attached_head, b64(body).encode())}", body),
        "b64 true": (f"{b64_true_head}..{rs256(saleor.key, b64_true_head, b64(body).encode())}", body),
        "PS256 claimed": (f"{ps_head}..{rs256(saleor.key, ps_head, body)}", body),
        "empty signature part": (header() + "..", body),
        "signed by another Saleor": (sign_detached_jws(body, stranger), body),
    }


FORGERY_NAMES = [
    "alg none",
    "HS256 keyed with the public key",
    "right key, unknown kid",
    "another key, the served kid",
    "signature of another body",
    "attached JWS",
    "b64 true",
    "PS256 claimed",
    "empty signature part",
    "signed by another Saleor",
]


@pytest.mark.parametrize("forgery", FORGERY_NAMES)
def test_forged_webhook_signatures_are_refused(fuzz_shop, forgery):
    body = a_real_payload(fuzz_shop)
    signature, sent_body = _forgeries(fuzz_shop.saleor, body)[forgery]
    headers = signed_headers(fuzz_shop.saleor, sent_body)
    headers["Saleor-Signature"] = signature
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.post("/api/webhooks/saleor", data=sent_body, headers=headers)
        responses.append(response)
    assert response.status_code == 401, (forgery, response.get_json())
    genuine = fuzz_shop.client.post("/api/webhooks/saleor", data=body, headers=signed_headers(fuzz_shop.saleor, body))
    assert genuine.status_code == 200, "the same body with Saleor's real signature is accepted (the test can fail)"


def test_a_valid_signature_of_another_saleor_for_our_tenant_is_refused(fuzz_shop):
    from tests.saleor_emulator import SaleorEmulator

    body = a_real_payload(fuzz_shop)
    with SaleorEmulator() as other:
        for api_url in (fuzz_shop.saleor.api_url, other.api_url):
            headers = signed_headers(other, body)
            headers["Saleor-Api-Url"] = api_url
            with unchanged_unless_accepted() as responses:
                response = fuzz_shop.client.post("/api/webhooks/saleor", data=body, headers=headers)
                responses.append(response)
            assert response.status_code == 401, (api_url, response.get_json())


@pytest.mark.parametrize("forgery", ["alg none", "signed by another Saleor", "signature of another body"])
def test_forged_app_deleted_does_not_uninstall(fuzz_shop, forgery):
    deliveries = fuzz_shop.saleor.prepare_deliveries(["APP_DELETED"], app=fuzz_shop.app)
    body = deliveries[0].body
    signature, sent = _forgeries(fuzz_shop.saleor, body)[forgery]
    headers = signed_headers(fuzz_shop.saleor, sent, "app_deleted")
    headers["Saleor-Signature"] = signature
    response = fuzz_shop.client.post("/api/webhooks/app-deleted", data=sent, headers=headers)
    assert response.status_code == 401
    from plugin.tenants.service import get_tenant

    assert get_tenant(fuzz_shop.tenant_id()).is_installed


# -- the install call ------------------------------------------------------------------------------


@FUZZ
@given(
    body=st.binary(max_size=500) | json_values.map(dumps),
    api_url=st.none() | header_text(),
    domain=st.none() | header_text(),
    method=st.sampled_from(["POST", "GET", "PUT", "DELETE"]),
)
def test_hostile_install_calls_change_nothing(fuzz_shop, body, api_url, domain, method):
    headers = {"Content-Type": "application/json"}
    if api_url is not None:
        headers["Saleor-Api-Url"] = api_url
    if domain is not None:
        headers["Saleor-Domain"] = domain
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.open("/api/register", method=method, data=body, headers=headers)
        responses.append(response)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
