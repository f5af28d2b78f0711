"""Tests of the Saleor emulator itself (tests/saleor_emulator), checked against the fixtures captured
from a real Saleor 3.23.28 in tests/fixtures/saleor/."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from pathlib import Path

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from flask import Flask, request
from jose import jwt as jose_jwt
from jose.exceptions import JWTError
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.saleor_emulator import (
    SaleorEmulator,
    SigningKey,
    b64url_decode,
    decode_jwt_unverified,
    from_global_id,
    verify_detached_jws,
)

PAYLOADS = Path(__file__).resolve().parent / "fixtures" / "saleor"


def fixture(name: str):
    return json.loads((PAYLOADS / name).read_text())


def load_reference_verifier():
    """The verification script shipped with the fixtures (cryptography only)."""
    spec = importlib.util.spec_from_file_location("verify_signatures", PAYLOADS / "verify_signatures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------ receiver


class _Quiet(WSGIRequestHandler):
    def log_request(self, *a, **k):
        pass


class Receiver:
    """A tiny Flask "app" on loopback: serves the captured manifest (URLs rewritten to itself) and
    records the token POST and every webhook delivery with raw bytes."""

    def __init__(self, manifest: dict | None = None):
        self.received: list[dict] = []
        self.status_for: dict[str, list[int]] = {}  # path -> queued status codes
        self.delay_for: dict[str, float] = {}
        self.lock = threading.Lock()
        self._manifest = manifest or fixture("manifest.json")
        app = Flask("receiver")

        @app.get("/api/manifest")
        def manifest_view():
            return json.loads(json.dumps(self._manifest).replace("http://localhost:3002", self.base))

        @app.post("/api/register")
        @app.post("/api/webhooks/saleor")
        @app.post("/api/webhooks/app-deleted")
        def capture():
            with self.lock:
                self.received.append(
                    {
                        "path": request.path,
                        "headers": list(request.headers.items()),
                        "body": request.get_data(),
                    }
                )
                queued = self.status_for.get(request.path)
                status = queued.pop(0) if queued else 200
            if request.path in self.delay_for:
                time.sleep(self.delay_for[request.path])
            if status in (301, 302, 307, 308):
                return "", status, {"Location": "/elsewhere"}
            return ({"success": status < 400}, status)

        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def at(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["path"] == path]

    def stop(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture()
def saleor():
    with SaleorEmulator() as emulator:
        yield emulator


@pytest.fixture()
def installed(saleor, receiver):
    result = saleor.install(receiver.base + "/api/manifest")
    assert result.ok, result.message
    return result.app


def gql(saleor, query, variables=None, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = requests.post(
        saleor.api_url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=10
    )
    return resp


def key_shape(value):
    """Recursive key structure of a JSON value (list items merged)."""
    if isinstance(value, dict):
        return {k: key_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes = [key_shape(v) for v in value]
        return shapes[0] if shapes else []
    return None


# ------------------------------------------------------------------------------------ GraphQL


def test_invalid_documents_are_refused_with_400(saleor):
    app = saleor.create_app("t", ["MANAGE_ORDERS"])
    resp = gql(saleor, "{ app { id nosuchfield } }", token=app.token)
    assert resp.status_code == 400
    body = resp.json()
    assert "data" not in body
    err = body["errors"][0]
    assert "nosuchfield" in err["message"]
    assert err["locations"] == [{"line": 1, "column": 12}]
    assert err["extensions"]["exception"]["code"] == "GraphQLError"
    assert body["extensions"]["cost"]["maximumAvailable"] == 50000

    resp = gql(saleor, "{ app { id ", token=app.token)
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["extensions"]["exception"]["code"] == "GraphQLSyntaxError"

    # wrong argument type is a validation error too
    resp = gql(saleor, '{ orders(first: "ten") { totalCount } }', token=app.token)
    assert resp.status_code == 400
    assert saleor.validation_failures == 3
    assert [r.status for r in saleor.requests] == [400, 400, 400]

    resp = requests.post(saleor.api_url, data=b"not json", headers={"Content-Type": "application/json"}, timeout=5)
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["message"] == "Unable to parse query."


def test_unknown_token_is_anonymous_and_gets_permission_denied(saleor):
    resp = gql(saleor, "{ app { id } }", token="x" * 30)
    assert resp.status_code == 200
    body = resp.json()
    assert body["data"] == {"app": None}
    assert body["errors"][0]["extensions"]["exception"]["code"] == "PermissionDenied"
    assert body["errors"][0]["path"] == ["app"]
    assert "AUTHENTICATED_STAFF_USER, AUTHENTICATED_APP" in body["errors"][0]["message"]


def test_app_query_and_request_recording(saleor):
    app = saleor.create_app("ref", ["MANAGE_ORDERS"])
    for header in (
        {"Authorization": f"Bearer {app.token}"},
        {"Authorization": f"JWT {app.token}"},
        {"Authorization-Bearer": app.token},
    ):
        resp = requests.post(saleor.api_url, json={"query": "{ app { id name } }"}, headers=header, timeout=5)
        assert resp.json()["data"]["app"] == {"id": app.id, "name": "ref"}
    assert from_global_id(app.id) == ("App", "1")
    assert len(app.token) == 30 and app.token.isalnum()
    rec = saleor.requests[-1]
    assert rec.token == app.token and rec.app_id == app.id and rec.query == "{ app { id name } }"
    assert resp.json()["extensions"] == {"cost": {"requestedQueryCost": 1, "maximumAvailable": 50000}}


def test_voucher_create_reproduces_captured_already_exists_response(saleor):
    app = saleor.create_app("ref", ["MANAGE_DISCOUNTS"])
    captured = fixture("voucher_create_already_exists__G__1.request.json")
    first = gql(saleor, captured["query"], captured["variables"], token=app.token)
    assert first.status_code == 200
    assert first.json()["data"]["voucherCreate"]["errors"] == []
    second = gql(saleor, captured["query"], captured["variables"], token=app.token)
    assert second.status_code == captured["responseStatus"]
    expected = (PAYLOADS / "voucher_create_already_exists__G__1.json").read_bytes().strip()
    assert second.content == expected


def test_voucher_lifecycle_rules(saleor):
    app = saleor.create_app("ref", ["MANAGE_DISCOUNTS"])
    create = """mutation($input: VoucherInput!) { voucherCreate(input: $input) {
        voucher { id name singleUse discountValueType codes(first: 10) { totalCount edges { node { id code used isActive } } } }
        errors { field code message voucherCodes } } }"""
    dup = gql(saleor, create, {"input": {"name": "x", "addCodes": ["A-1", " A-1 "]}}, app.token).json()
    assert dup["data"]["voucherCreate"] == {
        "voucher": None,
        "errors": [
            {
                "field": "codes",
                "code": "DUPLICATED_INPUT_ITEM",
                "message": "Duplicated promo codes provided.",
                "voucherCodes": ["A-1"],
            }
        ],
    }
    ok = gql(
        saleor,
        create,
        {
            "input": {
                "name": "Friend",
                "addCodes": ["  FRIEND-1  "],
                "singleUse": True,
                "discountValueType": "PERCENTAGE",
                "type": "ENTIRE_ORDER",
            }
        },
        app.token,
    ).json()
    voucher = ok["data"]["voucherCreate"]["voucher"]
    assert voucher["codes"]["edges"][0]["node"]["code"] == "FRIEND-1"
    assert from_global_id(voucher["id"])[0] == "Voucher"
    code_id = voucher["codes"]["edges"][0]["node"]["id"]
    assert from_global_id(code_id)[0] == "VoucherCode"

    listing = """mutation($id: ID!, $input: VoucherChannelListingInput!) { voucherChannelListingUpdate(id: $id, input: $input) {
        voucher { channelListings { channel { id slug currencyCode } discountValue currency minSpent { amount currency } } }
        errors { field code message channels } } }"""
    too_much = gql(
        saleor,
        listing,
        {"id": voucher["id"], "input": {"addChannels": [{"channelId": "Q2hhbm5lbDox", "discountValue": "150"}]}},
        app.token,
    ).json()
    assert too_much["data"]["voucherChannelListingUpdate"]["errors"] == [
        {
            "field": "discountValue",
            "code": "INVALID",
            "message": "Invalid percentage value.",
            "channels": ["Q2hhbm5lbDox"],
        }
    ]
    unknown = gql(
        saleor,
        listing,
        {"id": voucher["id"], "input": {"addChannels": [{"channelId": "Q2hhbm5lbDo5OQ==", "discountValue": "10"}]}},
        app.token,
    ).json()
    assert unknown["data"]["voucherChannelListingUpdate"]["errors"][0]["field"] == "channelId"
    good = gql(
        saleor,
        listing,
        {
            "id": voucher["id"],
            "input": {"addChannels": [{"channelId": "Q2hhbm5lbDox", "discountValue": "10", "minAmountSpent": "50"}]},
        },
        app.token,
    ).json()
    assert good["data"]["voucherChannelListingUpdate"]["voucher"]["channelListings"] == [
        {
            "channel": {"id": "Q2hhbm5lbDox", "slug": "default-channel", "currencyCode": "USD"},
            "discountValue": 10.0,
            "currency": "USD",
            "minSpent": {"amount": 50.0, "currency": "USD"},
        }
    ]

    search = gql(
        saleor,
        '{ vouchers(first: 5, filter: {search: "friend-"}) { totalCount edges { node { id } } } }',
        token=app.token,
    ).json()
    assert search["data"]["vouchers"]["totalCount"] == 1

    # the code is used by a checkout: single-use -> inactive, used stays 0
    saleor.create_order("friend@example.com", voucher_code="FRIEND-1", paid=True)
    assert saleor.voucher_codes()["FRIEND-1"] == {"voucher_id": voucher["id"], "used": 0, "is_active": False}

    bulk = gql(
        saleor,
        "mutation($ids: [ID!]!) { voucherCodeBulkDelete(ids: $ids) { count errors { path code message voucherCodes } } }",
        {"ids": [voucher["id"]]},
        app.token,
    ).json()
    assert bulk["data"]["voucherCodeBulkDelete"] == {
        "count": 0,
        "errors": [
            {"path": "ids", "code": "INVALID", "message": "Invalid VoucherCode ID.", "voucherCodes": [voucher["id"]]}
        ],
    }
    bulk = gql(
        saleor,
        "mutation($ids: [ID!]!) { voucherCodeBulkDelete(ids: $ids) { count errors { code } } }",
        {"ids": [code_id]},
        app.token,
    ).json()
    assert bulk["data"]["voucherCodeBulkDelete"] == {"count": 1, "errors": []}

    meta = gql(
        saleor,
        """mutation($id: ID!) { updatePrivateMetadata(id: $id, input: [{key: "referrer", value: "alice"}]) {
        item { ... on Voucher { id privateMetadata { key value } } } errors { code } } }""",
        {"id": voucher["id"]},
        app.token,
    ).json()
    assert meta["data"]["updatePrivateMetadata"]["item"]["privateMetadata"] == [{"key": "referrer", "value": "alice"}]


def test_mutation_without_permission_is_denied(saleor):
    app = saleor.create_app("weak", ["MANAGE_ORDERS"])
    resp = gql(
        saleor,
        'mutation { voucherCreate(input: {addCodes: ["X"]}) { voucher { id } errors { code } } }',
        token=app.token,
    ).json()
    assert resp["data"] == {"voucherCreate": None}
    assert resp["errors"][0]["extensions"]["exception"]["code"] == "PermissionDenied"
    assert resp["errors"][0]["message"].endswith("MANAGE_DISCOUNTS")


def test_not_emulated_fields_are_visible_errors(saleor):
    app = saleor.create_app("ref", ["MANAGE_PRODUCTS"])
    resp = gql(saleor, "{ products(first: 1) { totalCount } }", token=app.token)
    assert resp.status_code == 200
    assert resp.json()["errors"][0]["message"] == "not emulated: Query.products"


def test_orders_lookup_by_customer(saleor):
    app = saleor.create_app("ref", ["MANAGE_ORDERS"])
    saleor.create_order("friend@example.com", paid=True)
    saleor.create_order("other@example.com")
    saleor.create_order("Friend@Example.com", total="10.00")
    query = """query($email: String!) { orders(first: 10, filter: {customer: $email}) {
        totalCount edges { node { number userEmail isPaid total { gross { amount currency } } } } } }"""
    body = gql(saleor, query, {"email": "friend@example.com"}, app.token).json()
    assert body["data"]["orders"]["totalCount"] == 2
    assert [e["node"]["number"] for e in body["data"]["orders"]["edges"]] == ["102", "100"]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    missing_first = gql(saleor, "{ orders { totalCount } }", token=app.token).json()
    assert "first" in missing_first["errors"][0]["message"] and missing_first["data"] == {"orders": None}


# ------------------------------------------------------------------------------------ install


def test_install_posts_token_like_saleor(saleor, receiver):
    before = len(receiver.at("/api/register"))
    result = saleor.install(receiver.base + "/api/manifest")
    assert result.ok and result.response.status_code == 200
    reg = receiver.at("/api/register")[before]
    captured = fixture("register__1.json")
    got = dict(reg["headers"])
    for name in (
        "Content-Type",
        "X-Saleor-Domain",
        "Saleor-Domain",
        "Saleor-Api-Url",
        "Saleor-Schema-Version",
        "User-Agent",
    ):
        assert name in got
    assert got["User-Agent"] == captured["headers"]["User-Agent"]
    assert got["Saleor-Schema-Version"] == "3.23"
    assert got["Saleor-Api-Url"] == saleor.api_url and got["Saleor-Domain"] == saleor.domain
    assert got["Host"] == "127.0.0.1"  # no port, as observed
    # header order as captured (Accept/Connection come from the HTTP client)
    names = [n for n, _ in reg["headers"]]
    assert names == list(captured["headers"].keys())
    assert reg["body"] == json.dumps({"auth_token": result.app.token}).encode()
    assert len(reg["body"]) == int(captured["headers"]["Content-Length"])
    # the token works, the webhooks were created from the manifest
    assert gql(saleor, "{ app { id } }", token=result.app.token).json()["data"]["app"]["id"] == result.app.id
    assert [w.name for w in result.app.webhooks] == ["order-events", "app-lifecycle"]
    assert "ORDER_FULLY_PAID" in result.app.webhooks[0].async_events
    # same identifier twice -> refused
    again = saleor.install(receiver.base + "/api/manifest")
    assert not again.ok and again.error_code == "UNIQUE"


def test_install_failure_deletes_app_but_3xx_counts_as_success(saleor, receiver):
    receiver.status_for["/api/register"] = [500]
    failed = saleor.install(receiver.base + "/api/manifest")
    assert not failed.ok and failed.response.status_code == 500
    assert gql(saleor, "{ app { id } }", token=failed.app.token).json()["data"]["app"] is None
    receiver.status_for["/api/register"] = [308]
    redirected = saleor.install(receiver.base + "/api/manifest")
    assert redirected.ok and redirected.response.status_code == 308


# ------------------------------------------------------------------------------------ webhooks


def test_signed_delivery_verifies_like_reference_script(saleor, installed, receiver, tmp_path):
    ref = load_reference_verifier()
    order = saleor.create_order("friend1@example.com", total="5.37", metadata={"referral_code": "ALICE7K2"}, paid=True)
    deliveries = saleor.checkout_complete(order)
    assert [d.event for d in deliveries] == ["ORDER_CREATED", "ORDER_PAID", "ORDER_FULLY_PAID", "ORDER_UPDATED"]
    jwks_path = tmp_path / "jwks.json"
    jwks_path.write_bytes(requests.get(saleor.jwks_url, timeout=5).content)
    keys = ref.load_keys(str(jwks_path))
    received = receiver.at("/api/webhooks/saleor")[-4:]
    for delivery, got in zip(deliveries, received):
        headers = dict(got["headers"])
        assert got["body"] == delivery.body
        header = ref.verify(headers["Saleor-Signature"], got["body"], keys)
        assert header == {"alg": "RS256", "b64": False, "crit": ["b64"], "kid": saleor.key.kid, "typ": "JWT"}
        assert headers["X-Saleor-Signature"] == headers["Saleor-Signature"]
        assert headers["Saleor-Event"] == delivery.event.lower()
        tampered = bytearray(got["body"])
        tampered[10] ^= 0x01
        with pytest.raises(InvalidSignature):
            ref.verify(headers["Saleor-Signature"], bytes(tampered), keys)
    # the emulator's own verifier agrees with the real captured fixtures
    real_jwks = fixture("jwks.json")
    real = fixture("order_fully_paid__A__3.json")
    assert verify_detached_jws(real["headers"]["Saleor-Signature"], real["body"].encode(), real_jwks)


def test_delivery_headers_follow_fixture_order(saleor, installed, receiver):
    order = saleor.create_order("x@example.com", paid=True)
    saleor.checkout_complete(order)
    got = receiver.at("/api/webhooks/saleor")[-1]
    captured = fixture("order_updated__A__4.json")
    names = [n.lower() for n, _ in got["headers"]]
    assert names == [n.lower() for n in captured["headers"].keys()]
    assert dict(got["headers"])["User-Agent"] == "Saleor/3.23"
    assert "Saleor-Schema-Version" not in dict(got["headers"])


def test_paid_order_payload_has_same_keys_as_captured(saleor, installed, receiver):
    app = installed
    create = """mutation($input: VoucherInput!) { voucherCreate(input: $input) { voucher { id } errors { code } } }"""
    gql(
        saleor,
        create,
        {
            "input": {
                "name": "Referral friend discount FRIEND-ALICE7K2-001",
                "addCodes": ["FRIEND-ALICE7K2-001"],
                "singleUse": True,
                "discountValueType": "PERCENTAGE",
                "type": "ENTIRE_ORDER",
            }
        },
        app.token,
    )
    order = saleor.create_order(
        "friend1@example.com",
        total="5.37",
        voucher_code="FRIEND-ALICE7K2-001",
        metadata={"referral_code": "ALICE7K2"},
        paid=True,
    )
    deliveries = saleor.checkout_complete(order)
    fully_paid = next(d for d in deliveries if d.event == "ORDER_FULLY_PAID")
    captured = json.loads(fixture("order_fully_paid__A__3.json")["body"])
    payload = fully_paid.payload
    assert key_shape(payload) == key_shape(captured)
    assert list(payload) == list(captured)
    assert list(payload["order"]) == list(captured["order"])
    assert payload["recipient"] == {"id": app.id}
    assert payload["version"] == "3.23.28"
    order_data = payload["order"]
    assert order_data["chargeStatus"] == "FULL" and order_data["isPaid"] is True
    assert order_data["voucher"]["name"] == "Referral friend discount FRIEND-ALICE7K2-001"
    assert order_data["shippingAddress"]["city"] == "MOUNTAIN VIEW"
    assert order_data["totalRefunded"] == {"amount": 0.0, "currency": "USD"}
    # byte format: Python json.dumps default separators
    assert fully_paid.body == json.dumps(payload).encode()
    assert fully_paid.body.startswith(b'{"__typename": "OrderFullyPaid", "issuedAt": "')


def test_event_sequences_and_states(saleor, installed, receiver):
    order = saleor.create_order(
        "ashley.cook@example.com",
        origin="DRAFT",
        user={"id": "VXNlcjo2", "email": "ashley.cook@example.com", "firstName": "Ashley", "lastName": "Cook"},
    )
    assert [d.event for d in saleor.checkout_complete(order)] == ["ORDER_CREATED"]
    marked = saleor.mark_as_paid(order)
    assert [d.event for d in marked] == ["ORDER_FULLY_PAID", "ORDER_UPDATED"]
    assert marked[0].payload["order"]["checkoutId"] is None
    refunds = saleor.refund(order)
    assert [d.event for d in refunds] == ["ORDER_REFUNDED", "ORDER_UPDATED", "ORDER_FULLY_REFUNDED"]
    o = refunds[-1].payload["order"]
    assert (o["chargeStatus"], o["authorizeStatus"], o["isPaid"], o["status"]) == ("NONE", "NONE", False, "UNFULFILLED")
    assert o["totalRefunded"]["amount"] == 25.0 and o["totalCharged"]["amount"] == 0.0

    other = saleor.create_order("friend4@example.com", total="7.96", paid=True)
    saleor.checkout_complete(other, event_order=["ORDER_CREATED", "ORDER_FULLY_PAID", "ORDER_PAID", "ORDER_UPDATED"])
    cancelled = saleor.cancel(other)
    assert [d.event for d in cancelled] == ["ORDER_CANCELLED", "ORDER_UPDATED"]
    c = cancelled[0].payload["order"]
    assert (c["status"], c["chargeStatus"], c["isPaid"]) == ("CANCELED", "FULL", True)

    # deferred rendering: a prepared delivery reflects the state at send time
    late = saleor.create_order("late@example.com")
    pending = saleor.pay(late, deliver=False)
    saleor.refund(late)
    assert pending[0].payload["order"]["chargeStatus"] == "NONE"
    assert not pending[0].sent


def test_resend_retry_and_duplicates(saleor, installed, receiver):
    order = saleor.create_order("dup@example.com", paid=True)
    delivery = saleor.pay(order, event_order=["ORDER_FULLY_PAID"])[0]
    n = len(receiver.at("/api/webhooks/saleor"))
    delivery.resend()
    again = receiver.at("/api/webhooks/saleor")[n]
    assert again["body"] == delivery.body

    receiver.status_for["/api/webhooks/saleor"] = [500, 503]
    retried = saleor.pay(order, event_order=["ORDER_FULLY_PAID"], retry=True)[0]
    assert [a.status_code for a in retried.attempts] == [500, 503, 200]
    receiver.status_for["/api/webhooks/saleor"] = [302]
    redirected = saleor.pay(order, event_order=["ORDER_FULLY_PAID"], retry=True)[0]
    assert [a.status_code for a in redirected.attempts] == [302]

    before = len(receiver.at("/api/webhooks/saleor"))
    copies = saleor.deliver_event(installed, "ORDER_FULLY_PAID", order, concurrently=3)
    assert len(copies) == 3 and len({c.body for c in copies}) == 1
    assert len(receiver.at("/api/webhooks/saleor")) == before + 3


def test_app_deleted_delivery_and_token_revoked(saleor, installed, receiver):
    token = installed.token
    deliveries = saleor.delete_app(installed)
    assert len(deliveries) == 1
    got = receiver.at("/api/webhooks/app-deleted")[-1]
    assert got["body"] == json.dumps({"__typename": "AppDeleted", "app": {"id": installed.id}}).encode()
    assert dict(got["headers"])["Saleor-Event"] == "app_deleted"
    assert verify_detached_jws(dict(got["headers"])["Saleor-Signature"], got["body"], saleor.jwks)
    resp = gql(saleor, "{ app { id } }", token=token).json()
    assert resp["data"]["app"] is None


def test_key_rotation(saleor, installed, receiver):
    order = saleor.create_order("k@example.com", paid=True)
    old = saleor.pay(order, event_order=["ORDER_PAID"])[0]
    old_jwks = requests.get(saleor.jwks_url, timeout=5).json()
    saleor.rotate_key()
    new_jwks = requests.get(saleor.jwks_url, timeout=5).json()
    assert old_jwks["keys"][0]["kid"] != new_jwks["keys"][0]["kid"]
    assert len(new_jwks["keys"]) == 1
    new = saleor.pay(order, event_order=["ORDER_PAID"])[0]
    assert verify_detached_jws(new.signature, new.body, new_jwks)
    with pytest.raises(KeyError):
        verify_detached_jws(old.signature, old.body, new_jwks)
    saleor.jwks_available = False
    assert requests.get(saleor.jwks_url, timeout=5).status_code == 500


def test_jwks_shape_matches_capture(saleor):
    served = requests.get(saleor.jwks_url, timeout=5)
    captured = (PAYLOADS / "jwks.json").read_text()
    assert list(served.json()["keys"][0]) == list(json.loads(captured)["keys"][0])
    assert served.content.startswith(b'{"keys": [{"kty": "RSA", "key_ops": ["verify"], "n": "')
    # kid is the RFC 7638 thumbprint: recompute for the captured key
    from tests.saleor_emulator.signing import jwk_thumbprint

    real = json.loads(captured)["keys"][0]
    assert jwk_thumbprint(real["n"], real["e"]) == real["kid"]


# ------------------------------------------------------------------------------------ JWT


def test_dashboard_token_verifies_against_served_jwks(saleor, installed):
    token = saleor.mint_dashboard_token(installed)
    jwks = requests.get(saleor.jwks_url, timeout=5).json()
    claims = jose_jwt.decode(token, jwks, algorithms=["RS256"], issuer=saleor.api_url, options={"verify_aud": False})
    captured = fixture("app_access_token__H__1.claims.json")
    assert list(claims) == list(captured["claims"])
    assert claims["app"] == installed.id and claims["type"] == "thirdparty" and claims["exp"] - claims["iat"] == 300
    header, _ = decode_jwt_unverified(token)
    assert header == {"alg": "RS256", "kid": saleor.key.kid, "typ": "JWT"}
    assert set(claims["permissions"]) == set(installed.permissions)

    forged_other_key = saleor.mint_dashboard_token(installed, key=SigningKey())
    forged_hs = saleor.mint_dashboard_token(installed, alg="HS256", key="secret")
    forged_none = saleor.mint_dashboard_token(installed, alg="none")
    expired = saleor.mint_dashboard_token(installed, iat=int(time.time()) - 1000)
    for bad in (forged_other_key, forged_hs, forged_none, expired):
        with pytest.raises(JWTError):
            jose_jwt.decode(bad, jwks, algorithms=["RS256"], issuer=saleor.api_url, options={"verify_aud": False})


# ------------------------------------------------------------------------------------ faults


def test_fault_injection(saleor):
    app = saleor.create_app("ref", ["MANAGE_ORDERS"])
    saleor.faults.fail_next(2, status=502)
    assert gql(saleor, "{ app { id } }", token=app.token).status_code == 502
    assert gql(saleor, "{ app { id } }", token=app.token).status_code == 502
    assert gql(saleor, "{ app { id } }", token=app.token).status_code == 200
    saleor.faults.timeout_next(1, seconds=0.5)
    with pytest.raises(requests.Timeout):
        requests.post(
            saleor.api_url,
            json={"query": "{ app { id } }"},
            headers={"Authorization": f"Bearer {app.token}"},
            timeout=0.2,
        )
    assert saleor.faults.counters == {"failed": 2, "timed_out": 1}

    def drill(seed):
        saleor.faults.reset()
        saleor.faults.reseed(seed)
        saleor.faults.failure_rate = 0.5
        return [gql(saleor, "{ app { id } }", token=app.token).status_code for _ in range(12)]

    first, second = drill(7), drill(7)
    assert first == second and 500 in first and 200 in first


def test_voucher_update_rules(saleor):
    app = saleor.create_app("ref", ["MANAGE_DISCOUNTS"])
    v = saleor.create_voucher(["TIER-1"], name="tier", single_use=True, channel_values={"default-channel": 5})
    update = """mutation($id: ID!, $input: VoucherInput!) { voucherUpdate(id: $id, input: $input) {
        voucher { name singleUse codes(first: 10) { edges { node { code } } } } errors { field code message voucherCodes } } }"""
    body = gql(saleor, update, {"id": v["id"], "input": {"addCodes": ["REF-2", "TIER-1"]}}, app.token).json()
    assert body["data"]["voucherUpdate"]["errors"] == [
        {
            "field": "codes",
            "code": "ALREADY_EXISTS",
            "message": "Promo code already exists.",
            "voucherCodes": ["TIER-1"],
        }
    ]
    body = gql(saleor, update, {"id": v["id"], "input": {"addCodes": ["REF-2"], "name": "tier 1"}}, app.token).json()
    result = body["data"]["voucherUpdate"]
    assert result["errors"] == [] and result["voucher"]["name"] == "tier 1"
    assert [e["node"]["code"] for e in result["voucher"]["codes"]["edges"]] == ["TIER-1", "REF-2"]
    saleor.create_order("f@example.com", voucher_code="REF-2")
    body = gql(saleor, update, {"id": v["id"], "input": {"singleUse": False}}, app.token).json()
    assert body["data"]["voucherUpdate"]["errors"][0]["code"] == "VOUCHER_ALREADY_USED"
    missing = gql(saleor, update, {"id": "Vm91Y2hlcjo5OTk=", "input": {"name": "x"}}, app.token).json()
    assert missing["data"]["voucherUpdate"]["errors"][0] == {
        "field": "id",
        "code": "NOT_FOUND",
        "message": "Couldn't resolve to a node: Vm91Y2hlcjo5OTk=",
        "voucherCodes": None,
    }


def test_graphql_mutations_fire_subscribed_events(saleor, receiver):
    app = saleor.create_app(
        "meta",
        ["MANAGE_ORDERS"],
        webhooks=[
            {
                "name": "meta",
                "targetUrl": receiver.base + "/api/webhooks/saleor",
                "asyncEvents": ["ORDER_METADATA_UPDATED"],
                "query": "subscription { event { __typename ... on OrderMetadataUpdated { order { id metadata { key value } } } } }",
            }
        ],
    )
    order = saleor.create_order("m@example.com")
    before = len(receiver.at("/api/webhooks/saleor"))
    resp = gql(
        saleor,
        """mutation($id: ID!) { updateMetadata(id: $id, input: [{key: "rewarded", value: "yes"}]) {
        errors { code } } }""",
        {"id": order["id"]},
        app.token,
    ).json()
    assert resp["data"]["updateMetadata"]["errors"] == []
    saleor.wait_for_background()
    got = receiver.at("/api/webhooks/saleor")[before:]
    assert len(got) == 1
    assert json.loads(got[0]["body"]) == {
        "__typename": "OrderMetadataUpdated",
        "order": {"id": order["id"], "metadata": [{"key": "rewarded", "value": "yes"}]},
    }


# ------------------------------------------------------------------------------------ several apps

SECOND_APP_QUERY = """
subscription {
  event {
    __typename
    recipient { id }
    ... on OrderCreated { order { id isPaid: isShippingRequired realIsPaid: isPaid userEmail } }
    ... on OrderUpdated { order { id isPaid: isShippingRequired realIsPaid: isPaid userEmail } }
  }
}
"""


def test_a_second_app_gets_its_own_aliased_payload_signed_with_the_one_instance_key(saleor, installed, receiver):
    other = saleor.create_app(
        "other-app",
        permissions=["MANAGE_ORDERS"],
        webhooks=[
            {
                "name": "orders",
                "targetUrl": receiver.base + "/api/webhooks/saleor",
                "query": SECOND_APP_QUERY,
                "asyncEvents": ["ORDER_CREATED", "ORDER_UPDATED"],
            }
        ],
    )
    assert other.token != installed.token
    order = saleor.create_order("unpaid@example.com")
    deliveries = saleor.checkout_complete(order)
    assert sorted((d.app.identifier, d.event) for d in deliveries) == [
        ("other-app", "ORDER_CREATED"),
        (installed.identifier, "ORDER_CREATED"),
    ]
    theirs = next(d for d in deliveries if d.app.pk == other.pk)
    assert json.loads(theirs.body) == {
        "__typename": "OrderCreated",
        "recipient": {"id": other.id},
        "order": {"id": order["id"], "isPaid": True, "realIsPaid": False, "userEmail": "unpaid@example.com"},
    }
    ours = next(d for d in deliveries if d.app.pk == installed.pk)
    header = lambda d: json.loads(b64url_decode(d.signature.split(".")[0]))  # noqa: E731
    assert header(theirs)["kid"] == header(ours)["kid"] == saleor.key.kid
    assert verify_detached_jws(theirs.signature, theirs.body, saleor.jwks), "valid for every app of this Saleor"


def test_an_app_without_order_events_permission_gets_no_order_deliveries(saleor, installed, receiver):
    saleor.create_app(
        "no-orders",
        permissions=[],
        webhooks=[
            {
                "name": "orders",
                "targetUrl": receiver.base + "/api/webhooks/saleor",
                "query": SECOND_APP_QUERY,
                "asyncEvents": ["ORDER_CREATED"],
            }
        ],
    )
    deliveries = saleor.checkout_complete(saleor.create_order("x@example.com"))
    assert [d.app.identifier for d in deliveries] == [installed.identifier]


ORDER_READ = """query($id: ID!) { app { id } order(id: $id) { id isPaid userEmail
  user { email } totalGrantedRefund { amount } } }"""


def test_order_by_id_answers_per_the_requesting_apps_permissions(saleor):
    manager = saleor.create_app("manager", permissions=["MANAGE_ORDERS"])
    bystander = saleor.create_app("bystander", permissions=[])
    order = saleor.create_order("bob@example.com", user={"id": "VXNlcjo3", "email": "bob@example.com"}, paid=True)

    full = saleor.execute(ORDER_READ, {"id": order["id"]}, app=manager)
    assert "errors" not in full
    assert full["data"] == {
        "app": {"id": manager.id},
        "order": {
            "id": order["id"],
            "isPaid": True,
            "userEmail": "bob@example.com",
            "user": {"email": "bob@example.com"},
            "totalGrantedRefund": {"amount": 0.0},
        },
    }

    # core resolve_order: the order by ID for anyone; its fields then check the requestor.
    limited = saleor.execute(ORDER_READ, {"id": order["id"]}, app=bystander)
    assert limited["data"] == {"app": {"id": bystander.id}, "order": None}, "a denied non-null field nulls the order"
    denied = sorted((tuple(e["path"]), e["extensions"]["exception"]["code"]) for e in limited["errors"])
    assert denied == [(("order", "totalGrantedRefund"), "PermissionDenied"), (("order", "user"), "PermissionDenied")]
    user_error = next(e for e in limited["errors"] if e["path"] == ["order", "user"])
    assert user_error["message"] == (
        "To access this path, you need one of the following permissions: "
        "MANAGE_USERS, MANAGE_ORDERS, HANDLE_PAYMENTS, HANDLE_TAXES, OWNER"
    )

    anonymous = saleor.execute("query($id: ID!) { order(id: $id) { id isPaid } }", {"id": order["id"]}, token="")
    assert anonymous == {"data": {"order": {"id": order["id"], "isPaid": True}}, "extensions": anonymous["extensions"]}
    by_reference = saleor.execute('{ order(externalReference: "x") { id } }', app=bystander)
    assert by_reference["data"] == {"order": None}
    assert by_reference["errors"][0]["extensions"]["exception"]["code"] == "PermissionDenied"
    unknown = saleor.execute(
        ORDER_READ, {"id": "T3JkZXI6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw"}, app=manager
    )
    assert unknown["data"] == {"app": {"id": manager.id}, "order": None} and "errors" not in unknown
