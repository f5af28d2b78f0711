"""The documents behind gift cards and free shipping validate against every Saleor line the app
supports (3.21.69, 3.22.67, 3.23.28), and what exactly-once issuing relies on exists in each:
`giftCardCreate(input: {metadata})` (added in 3.21) and `giftCards(filter: {metadata})`."""

from __future__ import annotations

from functools import cache

import pytest
from graphql import build_schema, parse, validate

from plugin.saleor.client import GRAPHQL_DIR
from tests.saleor_schemas import schema_file

VERSIONS = ("3.21.69", "3.22.67", "3.23.28")
REWARD_DOCUMENTS = (
    "gift_card_create",
    "gift_card_by_reward",
    "gift_card",
    "gift_card_deactivate",
    "gift_card_add_note",
    "voucher_create",
    "voucher_channel_listing_update",
    "order_for_referral",
)


@cache
def schema(version: str):
    return build_schema(schema_file(version).read_text())


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", REWARD_DOCUMENTS)
def test_reward_documents_validate_against_each_supported_saleor(name, version):
    errors = validate(schema(version), parse((GRAPHQL_DIR / f"{name}.graphql").read_text()))
    assert [e.message for e in errors] == []


def test_the_order_read_asks_for_what_rewards_are_computed_from():
    """Commission from subtotal.net; free shipping's value from the shipping prices; gift-card spending
    from the cards that paid the order — read from Saleor with our token, like every decision."""
    text = (GRAPHQL_DIR / "order_for_referral.graphql").read_text()
    for fragment in (
        "subtotal {\n      net {",
        "undiscountedShippingPrice {",
        "shippingPrice {\n      gross {",
        "giftCards {\n      id\n      initialBalance {",
    ):
        assert fragment in text


@pytest.mark.parametrize("version", VERSIONS)
def test_each_supported_saleor_takes_gift_card_metadata_at_creation_and_filters_by_it(version):
    sdl = schema(version)
    assert "metadata" in sdl.get_type("GiftCardCreateInput").fields
    assert "metadata" in sdl.get_type("GiftCardFilterInput").fields
    assert "SHIPPING" in sdl.get_type("VoucherTypeEnum").values
