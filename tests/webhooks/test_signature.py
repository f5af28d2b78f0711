"""Saleor-Signature verification against the real captured deliveries."""

from __future__ import annotations

import base64
import json

import pytest

from plugin.webhooks.signature import SignatureError, UnknownKey, verify_webhook_signature
from tests.fixtures import captured_jwks, signed_deliveries

DELIVERIES = signed_deliveries()
JWKS = json.loads(captured_jwks())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_there_are_17_real_signed_deliveries():
    assert len(DELIVERIES) == 17


@pytest.mark.parametrize("delivery", DELIVERIES, ids=lambda d: d.name)
def test_real_delivery_verifies_byte_exact(delivery):
    header = verify_webhook_signature(delivery.headers["Saleor-Signature"], delivery.body, JWKS)
    assert header["alg"] == "RS256" and header["b64"] is False


@pytest.mark.parametrize("delivery", DELIVERIES, ids=lambda d: d.name)
def test_any_changed_byte_is_refused(delivery):
    body = bytearray(delivery.body)
    for position in (0, len(body) // 2, len(body) - 1):
        tampered = bytearray(body)
        tampered[position] ^= 0x01
        with pytest.raises(SignatureError):
            verify_webhook_signature(delivery.headers["Saleor-Signature"], bytes(tampered), JWKS)


def test_reserialised_json_is_refused():
    delivery = DELIVERIES[0]
    compact = json.dumps(json.loads(delivery.body), separators=(",", ":")).encode()
    with pytest.raises(SignatureError):
        verify_webhook_signature(delivery.headers["Saleor-Signature"], compact, JWKS)


def _with_header(signature: str, **changes) -> str:
    header_b64, _, sig = signature.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    header.update(changes)
    header = {k: v for k, v in header.items() if v is not None}
    return f"{b64(json.dumps(header).encode())}..{sig}"


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"kid": "not-the-real-kid"}, UnknownKey),
        ({"alg": "none"}, SignatureError),
        ({"alg": "HS256"}, SignatureError),
        ({"b64": None, "crit": None}, SignatureError),
    ],
)
def test_forged_headers_are_refused(changes, error):
    delivery = DELIVERIES[0]
    with pytest.raises(error):
        verify_webhook_signature(_with_header(delivery.headers["Saleor-Signature"], **changes), delivery.body, JWKS)


def test_hs256_signed_with_the_public_key_is_refused():
    import hashlib
    import hmac

    delivery = DELIVERIES[0]
    header = b64(json.dumps({"alg": "HS256", "b64": False, "crit": ["b64"], "kid": JWKS["keys"][0]["kid"]}).encode())
    mac = hmac.new(json.dumps(JWKS["keys"][0]).encode(), header.encode() + b"." + delivery.body, hashlib.sha256)
    with pytest.raises(SignatureError):
        verify_webhook_signature(f"{header}..{b64(mac.digest())}", delivery.body, JWKS)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "..", "eyJ9..x", "!!!..!!!", "a" * 5000])
def test_garbage_signatures_are_refused(garbage):
    with pytest.raises(SignatureError):
        verify_webhook_signature(garbage, DELIVERIES[0].body, JWKS)


def test_attached_payload_form_is_refused():
    delivery = DELIVERIES[0]
    header_b64, _, sig = delivery.headers["Saleor-Signature"].split(".")
    with pytest.raises(SignatureError):
        verify_webhook_signature(f"{header_b64}.{b64(delivery.body)}.{sig}", delivery.body, JWKS)
