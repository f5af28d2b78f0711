"""The emulator's gift cards and SHIPPING vouchers behave like Saleor 3.23.28's (core
graphql/giftcard, giftcard/utils.py, order/utils.py add_gift_cards_to_order): shapes, error codes,
filters, balance used by orders; documents are validated against the real schema as always."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.saleor_emulator import SaleorEmulator
from tests.saleor_emulator.giftcards import GiftCardNotApplicable

CREATE = """mutation($input: GiftCardCreateInput!) {
  giftCardCreate(input: $input) {
    giftCard { id code displayCode last4CodeChars isActive expiryDate currency: initialBalance { currency }
               initialBalance { amount currency } currentBalance { amount currency }
               tags { name } metadata { key value } events { type balance { currentBalance { amount } } message } }
    errors { field code message }
  }
}"""
FIND = """query($filter: GiftCardFilterInput) {
  giftCards(first: 10, filter: $filter) { edges { node { id code isActive currentBalance { amount } } } }
}"""
DEACTIVATE = (
    """mutation($id: ID!) { giftCardDeactivate(id: $id) { giftCard { id isActive } errors { field code message } } }"""
)
NOTE = """mutation($id: ID!, $message: String!) {
  giftCardAddNote(id: $id, input: {message: $message}) { giftCard { id } event { type message } errors { field code message } }
}"""


@pytest.fixture(scope="module")
def saleor():
    with SaleorEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def app(saleor):
    return saleor.create_app("gift-cards", permissions=["MANAGE_ORDERS", "MANAGE_DISCOUNTS", "MANAGE_GIFT_CARD"])


def tomorrow_plus(days: int = 30) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def create(saleor, app, **fields):
    data = {
        "balance": {"amount": "20", "currency": "USD"},
        "isActive": True,
        "expiryDate": tomorrow_plus(),
        "addTags": ["Referral-Reward"],
        "metadata": [{"key": "referral_reward_id", "value": "CREDIT-1"}],
    }
    data.update(fields)
    return saleor.execute(CREATE, {"input": data}, app=app)


def test_create_generates_the_code_and_stores_balance_tags_metadata_expiry(saleor, app):
    body = create(saleor, app, metadata=[{"key": "referral_reward_id", "value": "CREDIT-A"}], note="For Alice")
    result = body["data"]["giftCardCreate"]
    assert result["errors"] == []
    card = result["giftCard"]
    code = card["code"]
    assert len(code) == 14 and code.count("-") == 2 and code == code.upper()
    assert card["displayCode"] == card["last4CodeChars"] == code[-4:]
    assert card["initialBalance"] == card["currentBalance"] == {"amount": 20.0, "currency": "USD"}
    assert card["isActive"] is True and card["expiryDate"] == tomorrow_plus()
    assert card["tags"] == [{"name": "referral-reward"}]  # core lower-cases tags
    assert card["metadata"] == [{"key": "referral_reward_id", "value": "CREDIT-A"}]
    assert [e["type"] for e in card["events"]] == ["ISSUED", "NOTE_ADDED"]
    assert card["events"][1]["message"] == "For Alice"
    assert saleor.state.notifications == []  # no userEmail: Saleor e-mails nobody


@pytest.mark.parametrize(
    "fields, error",
    [
        (
            {"balance": {"amount": "0", "currency": "USD"}},
            {"field": "balance", "code": "INVALID", "message": "Balance amount have to be greater than 0."},
        ),
        (
            {"balance": {"amount": "10.005", "currency": "USD"}},
            {"field": "balance", "code": "INVALID", "message": "Value cannot have more than 2 decimal places."},
        ),
        (
            {"expiryDate": date.today().isoformat()},
            {"field": "expiryDate", "code": "INVALID", "message": "Expiry date must be in the future."},
        ),
        (
            {"userEmail": "not-an-email", "channel": "default-channel"},
            {"field": "email", "code": "INVALID", "message": "Provided email is invalid."},
        ),
        (
            {"userEmail": "friend@example.com"},
            {
                "field": "channel",
                "code": "REQUIRED",
                "message": "Channel slug must be specified when user_email is provided.",
            },
        ),
    ],
)
def test_create_refuses_what_core_refuses_with_its_codes(saleor, app, fields, error):
    before = len(saleor.state.gift_cards)
    result = create(saleor, app, **fields)["data"]["giftCardCreate"]
    assert result == {"giftCard": None, "errors": [error]}
    assert len(saleor.state.gift_cards) == before


def test_a_taken_code_is_already_exists_across_vouchers_and_gift_cards(saleor, app):
    saleor.create_voucher(["TAKEN-CODE-1"])
    result = create(saleor, app, code="TAKEN-CODE-1")["data"]["giftCardCreate"]
    assert result["errors"] == [{"field": "code", "code": "ALREADY_EXISTS", "message": "Promo code already exists."}]


def test_without_manage_gift_card_the_mutation_is_denied(saleor):
    other = saleor.create_app("no-gift-cards", permissions=["MANAGE_DISCOUNTS"])
    body = create(saleor, other)
    assert body["data"]["giftCardCreate"] is None
    assert body["errors"][0]["extensions"]["exception"]["code"] == "PermissionDenied"
    assert "MANAGE_GIFT_CARD" in body["errors"][0]["message"]


def test_with_user_email_saleor_emails_the_customer_itself(saleor, app):
    result = create(saleor, app, userEmail="bob@example.com", channel="default-channel")["data"]["giftCardCreate"]
    assert result["errors"] == []
    assert saleor.state.notifications[-1] == {
        "event": "SEND_GIFT_CARD",
        "email": "bob@example.com",
        "gift_card": result["giftCard"]["id"],
        "channel": "default-channel",
    }
    saleor.state.notifications.clear()


def test_find_by_metadata_key_and_value_with_the_tag(saleor, app):
    created = create(saleor, app, metadata=[{"key": "referral_reward_id", "value": "CREDIT-FIND"}])
    card_id = created["data"]["giftCardCreate"]["giftCard"]["id"]
    create(saleor, app, metadata=[{"key": "referral_reward_id", "value": "CREDIT-OTHER"}])

    def found(flt):
        return [e["node"]["id"] for e in saleor.execute(FIND, {"filter": flt}, app=app)["data"]["giftCards"]["edges"]]

    assert found(
        {"metadata": [{"key": "referral_reward_id", "value": "CREDIT-FIND"}], "tags": ["referral-reward"]}
    ) == [card_id]
    assert found({"metadata": [{"key": "referral_reward_id", "value": "CREDIT-NONE"}]}) == []
    assert card_id in found({"metadata": [{"key": "referral_reward_id"}]})
    assert found({"tags": ["no-such-tag"]}) == []
    body = saleor.execute(FIND, {"filter": {"currentBalance": {"gte": 1}}}, app=app)
    assert body["errors"][0]["message"] == "You must provide a `currency` filter parameter for filtering by price."


def test_deactivate_and_note_record_events_and_unknown_ids_are_not_found(saleor, app):
    card_id = create(saleor, app)["data"]["giftCardCreate"]["giftCard"]["id"]
    result = saleor.execute(DEACTIVATE, {"id": card_id}, app=app)["data"]["giftCardDeactivate"]
    assert result == {"giftCard": {"id": card_id, "isActive": False}, "errors": []}
    note = saleor.execute(NOTE, {"id": card_id, "message": "Referral revoked"}, app=app)["data"]["giftCardAddNote"]
    assert note["event"] == {"type": "NOTE_ADDED", "message": "Referral revoked"} and note["errors"] == []
    empty = saleor.execute(NOTE, {"id": card_id, "message": "  "}, app=app)["data"]["giftCardAddNote"]
    assert empty["errors"] == [{"field": "message", "code": "REQUIRED", "message": "Message can't be empty."}]
    card = next(c for c in saleor.gift_cards().values() if c["id"] == card_id)
    assert card["events"] == ["issued", "deactivated", "note_added"]
    missing = saleor.execute(DEACTIVATE, {"id": "R2lmdENhcmQ6OTk5OTk="}, app=app)["data"]["giftCardDeactivate"]
    assert missing["errors"] == [
        {"field": "giftCardId", "code": "NOT_FOUND", "message": "Couldn't resolve to a node: R2lmdENhcmQ6OTk5OTk="}
    ]


def test_orders_use_the_balance_and_keep_the_rest_on_the_card(saleor, app):
    code = create(saleor, app, balance={"amount": "20", "currency": "USD"})["data"]["giftCardCreate"]["giftCard"][
        "code"
    ]
    first = saleor.create_order("bob@example.com", subtotal="12.50", gift_cards=[code], paid=True)
    assert first["total"]["gross"]["amount"] == 0.0  # the card paid it all
    assert [g["last4CodeChars"] for g in first["giftCards"]] == [code[-4:]]
    assert saleor.gift_cards()[code]["current_balance"] == Decimal("7.50")
    second = saleor.create_order("bob@example.com", subtotal="30.00", gift_cards=[code], paid=True)
    assert second["total"]["gross"]["amount"] == 22.5  # 7.50 left on the card, the rest paid otherwise
    card = saleor.gift_cards()[code]
    assert card["current_balance"] == Decimal("0.00") and card["used_by_email"] == "bob@example.com"
    assert card["events"] == ["issued", "used_in_order", "used_in_order"]


def test_a_deactivated_expired_or_foreign_currency_card_does_not_apply(saleor, app):
    active = create(saleor, app)["data"]["giftCardCreate"]["giftCard"]
    with pytest.raises(GiftCardNotApplicable):
        saleor.create_order("bob@example.com", channel="channel-pln", subtotal="10", gift_cards=[active["code"]])
    saleor.execute(DEACTIVATE, {"id": active["id"]}, app=app)
    orders_before = len(saleor.state.orders)
    with pytest.raises(GiftCardNotApplicable):
        saleor.create_order("bob@example.com", subtotal="10", gift_cards=[active["code"]])
    assert len(saleor.state.orders) == orders_before
    expired = create(saleor, app)["data"]["giftCardCreate"]["giftCard"]
    saleor.state.gift_card_by_code(expired["code"]).expiry_date = date.today() - timedelta(days=1)
    with pytest.raises(GiftCardNotApplicable):
        saleor.create_order("bob@example.com", subtotal="10", gift_cards=[expired["code"]])


def test_a_shipping_voucher_takes_the_shipping_off_and_is_listed_as_a_discount(saleor):
    saleor.create_voucher(
        ["SHIP-FREE-1"],
        type="SHIPPING",
        discount_value_type="PERCENTAGE",
        single_use=True,
        channel_values={"default-channel": "100"},
    )
    order = saleor.create_order(
        "carol@example.com", subtotal="40.00", shipping="7.50", voucher_code="SHIP-FREE-1", tax_rate="0.25"
    )
    assert order["undiscountedShippingPrice"]["amount"] == 7.5
    assert order["shippingPrice"]["gross"]["amount"] == 0.0
    assert order["total"]["gross"]["amount"] == 40.0
    assert order["subtotal"]["net"]["amount"] == 32.0 and order["subtotal"]["gross"]["amount"] == 40.0
    assert [(d["type"], d["amount"]["amount"]) for d in order["discounts"]] == [("VOUCHER", 7.5)]
    assert saleor.voucher_codes()["SHIP-FREE-1"]["is_active"] is False  # single use: spent


ADD_PROMO = """mutation($id: ID!, $code: String!) { checkoutAddPromoCode(id: $id, promoCode: $code) {
  checkout { totalPrice { gross { amount } } giftCards { last4CodeChars currentBalance { amount currency } } }
  errors { field code message } } }"""


def test_a_storefront_adds_a_gift_card_with_checkout_add_promo_code_and_keeps_the_rest(saleor, app):
    """core add_gift_card_code_to_checkout (no permission: the storefront's own call), then
    add_gift_cards_to_order when the checkout completes; what is left stays for the next checkout."""
    card = create(saleor, app, balance={"amount": "20", "currency": "USD"})["data"]["giftCardCreate"]["giftCard"]
    checkout = saleor.create_checkout(email="bob@example.com", subtotal="12.50")
    added = saleor.execute(ADD_PROMO, {"id": checkout["id"], "code": card["code"]})["data"]["checkoutAddPromoCode"]
    assert added == {
        "checkout": {
            "totalPrice": {"gross": {"amount": 0.0}},
            "giftCards": [{"last4CodeChars": card["code"][-4:], "currentBalance": {"amount": 20.0, "currency": "USD"}}],
        },
        "errors": [],
    }
    order = saleor.complete_checkout(checkout, deliver=False)
    assert order["total"]["gross"]["amount"] == 0.0 and len(order["giftCards"]) == 1
    assert saleor.gift_cards()[card["code"]]["current_balance"] == Decimal("7.50")

    later = saleor.create_checkout(email="bob@example.com", subtotal="30.00")
    again = saleor.execute(ADD_PROMO, {"id": later["id"], "code": card["code"]})["data"]["checkoutAddPromoCode"]
    assert again["checkout"]["totalPrice"] == {"gross": {"amount": 22.5}}
    saleor.complete_checkout(later, deliver=False)
    assert saleor.gift_cards()[card["code"]]["current_balance"] == Decimal("0.00")

    other = create(saleor, app)["data"]["giftCardCreate"]["giftCard"]
    saleor.execute(DEACTIVATE, {"id": other["id"]}, app=app)
    in_pln = saleor.create_checkout(channel="channel-pln", subtotal="10.00")["id"]
    for checkout_id, code in (
        (in_pln, other["code"]),
        (saleor.create_checkout()["id"], other["code"]),
        (in_pln, create(saleor, app)["data"]["giftCardCreate"]["giftCard"]["code"]),
    ):
        refused = saleor.execute(ADD_PROMO, {"id": checkout_id, "code": code})["data"]["checkoutAddPromoCode"]
        assert refused == {
            "checkout": None,
            "errors": [{"field": "promoCode", "code": "INVALID", "message": "Promo code is invalid"}],
        }
