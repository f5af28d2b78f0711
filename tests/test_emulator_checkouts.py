"""The emulator's checkouts, as a storefront meets them in a browser (core graphql/checkout and
asgi/cors_handler.py): no permission to create, read, add a promo code or write public metadata;
private metadata needs MANAGE_CHECKOUTS; Saleor's error codes and messages; CORS for any origin."""

from __future__ import annotations

import pytest
import requests

from tests.saleor_emulator import SaleorEmulator

ADD_PROMO = """mutation($id: ID!, $code: String!) { checkoutAddPromoCode(id: $id, promoCode: $code) {
  checkout { voucherCode discount { amount currency } totalPrice { gross { amount } } }
  errors { field code message } } }"""


@pytest.fixture
def saleor():
    with SaleorEmulator() as emulator:
        yield emulator


def gql(saleor, query, variables=None, **headers):
    response = requests.post(
        saleor.api_url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=10
    )
    return response


def test_anyone_creates_and_reads_a_checkout_with_metadata(saleor):
    created = gql(
        saleor,
        """mutation { checkoutCreate(input: {channel: "default-channel", email: "bob@example.com",
        lines: [], metadata: [{key: "referral_code", value: "ALICE7K2"}]}) {
        checkout { id email channel { slug } metafield(key: "referral_code") } errors { field code message } } }""",
    )
    checkout = created.json()["data"]["checkoutCreate"]["checkout"]
    assert checkout["email"] == "bob@example.com" and checkout["metafield"] == "ALICE7K2"
    read = gql(
        saleor,
        'query($id: ID!) { checkout(id: $id) { id voucherCode metafield(key: "referral_code") } }',
        {"id": checkout["id"]},
    )
    assert read.json()["data"]["checkout"] == {"id": checkout["id"], "voucherCode": None, "metafield": "ALICE7K2"}
    missing = gql(
        saleor, 'mutation { checkoutCreate(input: {channel: "nope", lines: []}) { errors { field code message } } }'
    )
    assert missing.json()["data"]["checkoutCreate"]["errors"] == [
        {"field": "channel", "code": "NOT_FOUND", "message": "Channel with 'nope' slug does not exist."}
    ]
    no_channel = gql(saleor, "mutation { checkoutCreate(input: {lines: []}) { errors { field code message } } }")
    assert no_channel.json()["data"]["checkoutCreate"]["errors"] == [
        {"field": "channel", "code": "MISSING_CHANNEL_SLUG", "message": "You need to provide channel slug."}
    ]


def test_promo_codes_follow_saleors_rules(saleor):
    saleor.create_voucher(["FRIEND-10"], discount_value_type="PERCENTAGE", channel_values={"default-channel": 10})
    saleor.create_voucher(["PLN-ONLY"], channel_values={"channel-pln": 10})
    checkout = saleor.create_checkout(subtotal="40.00")
    ok = gql(saleor, ADD_PROMO, {"id": checkout["id"], "code": "FRIEND-10"}).json()["data"]["checkoutAddPromoCode"]
    assert ok == {
        "checkout": {
            "voucherCode": "FRIEND-10",
            "discount": {"amount": 4.0, "currency": "USD"},
            "totalPrice": {"gross": {"amount": 36.0}},
        },
        "errors": [],
    }
    for code in ("NOPE", "PLN-ONLY"):
        refused = gql(saleor, ADD_PROMO, {"id": checkout["id"], "code": code}).json()["data"]["checkoutAddPromoCode"]
        assert refused == {
            "checkout": None,
            "errors": [{"field": "promoCode", "code": "INVALID", "message": "Promo code is invalid"}],
        }
    gone = gql(
        saleor, ADD_PROMO, {"id": "Q2hlY2tvdXQ6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw", "code": "FRIEND-10"}
    )
    assert gone.json()["data"]["checkoutAddPromoCode"]["errors"][0]["code"] == "NOT_FOUND"


def test_public_metadata_is_open_private_needs_manage_checkouts(saleor):
    checkout = saleor.create_checkout()
    public = gql(
        saleor,
        """mutation($id: ID!) { updateMetadata(id: $id, input: [{key: "referral_code", value: "X"}]) {
        errors { field code message } } }""",
        {"id": checkout["id"]},
    )
    assert public.json()["data"]["updateMetadata"] == {"errors": []}
    private = gql(
        saleor,
        """mutation($id: ID!) { updatePrivateMetadata(id: $id, input: [{key: "k", value: "v"}]) {
        errors { code } } }""",
        {"id": checkout["id"]},
    )
    assert private.json()["data"]["updatePrivateMetadata"] is None
    assert private.json()["errors"][0]["extensions"]["exception"]["code"] == "PermissionDenied"
    by_token = gql(
        saleor,
        """mutation($id: ID!) { updateMetadata(id: $id, input: [{key: "note", value: "t"}]) {
        errors { code } } }""",
        {"id": checkout["token"]},
    )
    assert by_token.json()["data"]["updateMetadata"] == {"errors": []}
    assert {m["key"] for m in saleor.get_checkout(checkout)["metadata"]} == {"referral_code", "note"}


def test_completing_a_checkout_copies_metadata_and_voucher_code_to_the_order(saleor):
    saleor.create_voucher(["FRIEND-10"], discount_value_type="FIXED", channel_values={"default-channel": 5})
    checkout = saleor.create_checkout(email="bob@example.com", subtotal="40.00", metadata={"referral_code": "ALICE7K2"})
    gql(saleor, ADD_PROMO, {"id": checkout["id"], "code": "FRIEND-10"})
    order = saleor.complete_checkout(checkout, deliver=False)
    assert (order["voucherCode"], order["total"]["gross"]["amount"], order["checkoutId"]) == (
        "FRIEND-10",
        35.0,
        checkout["id"],
    )
    assert [(m["key"], m["value"]) for m in order["metadata"]] == [("referral_code", "ALICE7K2")]
    with pytest.raises(KeyError):
        saleor.get_checkout(checkout)  # Saleor deletes a completed checkout


def test_cors_like_saleor(saleor):
    origin = "https://shop.example.com"
    preflight = requests.options(
        saleor.api_url, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}, timeout=10
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    answer = gql(saleor, "{ shop { name } }", Origin=origin)
    assert answer.headers["Access-Control-Allow-Origin"] == origin
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    with SaleorEmulator(allowed_graphql_origins=["https://*.example.org"]) as strict:
        refused = requests.options(strict.api_url, headers={"Origin": origin}, timeout=10)
        assert refused.status_code == 400 and "Access-Control-Allow-Origin" not in refused.headers
