"""Every GraphQL document the app sends, and every subscription of every manifest it serves,
validate against the real schemas of the Saleor lines it supports: 3.21.69, 3.22.67 and 3.23.28
(found by tests/saleor_schemas.py with pinned sha256s, never copied)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import parse, validate

from plugin.saleor.client import GRAPHQL_DIR
from plugin.tenants.manifest import build_manifest
from tests.saleor_emulator.schema import get_schema
from tests.saleor_emulator.versions import RELEASES

LINES = sorted(RELEASES)  # "3.21", "3.22", "3.23"


def schema(line: str = "3.23"):
    return get_schema(line)


DOCUMENTS = sorted(GRAPHQL_DIR.glob("*.graphql"))


def test_the_supported_lines_are_the_maintained_ones():
    assert RELEASES == {"3.21": "3.21.69", "3.22": "3.22.67", "3.23": "3.23.28"}


def test_documents_exist():
    assert {p.stem for p in DOCUMENTS} >= {
        "app_id",
        "voucher_create",
        "voucher_channel_listing_update",
        "voucher_code_bulk_delete",
        "order_events",
        "app_deleted",
    }


@pytest.mark.parametrize("line", LINES)
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_document_validates_against_every_supported_saleor(path, line):
    errors = validate(schema(line), parse(path.read_text()))
    assert [e.message for e in errors] == []


def test_every_document_the_client_can_send_is_a_file():
    """The client only sends documents by file name; nothing is built from strings elsewhere."""
    import plugin.saleor.client as client_module

    source = Path(client_module.__file__).read_text()
    for name in (
        "app_id",
        "shop_info",
        "shop_name",
        "voucher_create",
        "voucher_channel_listing_update",
        "voucher_by_code",
        "voucher_code_bulk_delete",
        "customer_orders",
        "order_for_referral",
    ):
        assert f'"{name}"' in source
        assert (GRAPHQL_DIR / f"{name}.graphql").exists()


@pytest.mark.parametrize("line", LINES)
def test_manifest_subscriptions_validate_against_the_saleor_that_fetches_them(line):
    manifest = build_manifest("https://referrals.example.com", line)
    assert [w["name"] for w in manifest["webhooks"]] == ["Referral order events", "Referral app lifecycle"]
    for webhook in manifest["webhooks"]:
        assert [e.message for e in validate(schema(line), parse(webhook["query"]))] == [], webhook["name"]
        async_events = schema(line).get_type("WebhookEventTypeAsyncEnum").values
        assert [e for e in webhook["asyncEvents"] if e not in async_events] == []


def test_the_most_compatible_manifest_validates_against_every_line():
    manifest = build_manifest("https://referrals.example.com", None)
    for line in LINES:
        for webhook in manifest["webhooks"]:
            assert validate(schema(line), parse(webhook["query"])) == [], (line, webhook["name"])


def test_manifest_has_what_saleor_needs():
    manifest = build_manifest("https://referrals.example.com/")
    from plugin import __version__

    assert manifest["version"] == __version__
    assert manifest["tokenTargetUrl"] == "https://referrals.example.com/api/register"
    assert manifest["appUrl"].startswith("https://referrals.example.com/")
    assert set(manifest["permissions"]) == {"MANAGE_ORDERS", "MANAGE_DISCOUNTS", "MANAGE_GIFT_CARD"}
    assert manifest["requiredSaleorVersion"]
    targets = {w["targetUrl"] for w in manifest["webhooks"]}
    assert targets == {
        "https://referrals.example.com/api/webhooks/saleor",
        "https://referrals.example.com/api/webhooks/app-deleted",
    }
    events = {e for w in manifest["webhooks"] for e in w["asyncEvents"]}
    assert {
        "ORDER_FULLY_PAID",
        "ORDER_PAID",
        "ORDER_REFUNDED",
        "ORDER_FULLY_REFUNDED",
        "ORDER_CANCELLED",
        "APP_DELETED",
    } <= events
    assert manifest["requiredSaleorVersion"] == ">=3.21"
    assert "{APP_URL}" not in str(manifest) and "{VERSION}" not in str(manifest)


@pytest.mark.parametrize(
    "header, mount, target",
    [
        ("3.23", "ORDER_DETAILS_WIDGETS", "WIDGET"),
        ("3.22", "ORDER_DETAILS_WIDGETS", "WIDGET"),
        ("3.24", "ORDER_DETAILS_WIDGETS", "WIDGET"),
        ("3.21", "ORDER_DETAILS_MORE_ACTIONS", "POPUP"),
        ("3.20", "ORDER_DETAILS_MORE_ACTIONS", "POPUP"),
        (None, "ORDER_DETAILS_MORE_ACTIONS", "POPUP"),
        ("", "ORDER_DETAILS_MORE_ACTIONS", "POPUP"),
        ("4.0", "ORDER_DETAILS_MORE_ACTIONS", "POPUP"),
        ("3.22; DROP", "ORDER_DETAILS_MORE_ACTIONS", "POPUP"),
    ],
)
def test_the_order_extension_fits_the_saleor_line(header, mount, target):
    """Widgets exist from 3.22; other lines, an unknown major or no header get the popup every line knows."""
    (extension,) = build_manifest("https://referrals.example.com", header)["extensions"]
    assert (extension["mount"], extension["target"]) == (mount, target)
    assert extension["url"] == "https://referrals.example.com/dashboard/order-widget"
    assert extension["permissions"] == ["MANAGE_ORDERS"]
    if target == "WIDGET":
        assert extension["options"] == {"widgetTarget": {"method": "GET"}}  # GET frames get the theme
    else:
        assert "options" not in extension


def test_subscription_asks_for_every_field_the_pipeline_reads():
    """The captured order payloads carry what apply_order_event reads; our query asks for the same."""
    from tests.fixtures import load

    query = (GRAPHQL_DIR / "order_events.graphql").read_text()
    captured = load("order_fully_paid__A__3.json").payload["order"]
    for field in (
        "id",
        "number",
        "status",
        "chargeStatus",
        "isPaid",
        "userEmail",
        "voucherCode",
        "metadata",
        "totalRefunded",
        "totalCharged",
        "languageCodeEnum",
        "shippingAddress",
        "updatedAt",
    ):
        assert field in captured and field in query


def test_the_order_read_asks_for_every_field_the_pipeline_reads():
    """Decisions rest on the order read, in the webhook payload's shape: it asks for what apply_order_event reads."""
    from graphql import FieldNode, visit
    from graphql.language import Visitor

    asked: set[str] = set()

    class Fields(Visitor):
        def enter_field(self, node: FieldNode, *_args):
            asked.add(node.name.value)

    visit(parse((GRAPHQL_DIR / "order_for_referral.graphql").read_text()), Fields())
    assert asked >= {
        "app",
        "order",
        "id",
        "number",
        "updatedAt",
        "status",
        "chargeStatus",
        "isPaid",
        "userEmail",
        "user",
        "firstName",
        "channel",
        "slug",
        "currencyCode",
        "total",
        "gross",
        "amount",
        "currency",
        "totalCharged",
        "totalRefunded",
        "voucherCode",
        "metadata",
        "key",
        "value",
        "shippingAddress",
        "billingAddress",
        "streetAddress1",
        "postalCode",
        "country",
        "code",
        "languageCodeEnum",
    }


@pytest.mark.parametrize("line", LINES)
@pytest.mark.parametrize("count", [2, 3])
@pytest.mark.parametrize("name", ["voucher_create", "voucher_channel_listing_update"])
def test_aliased_documents_validate_against_every_supported_saleor(name, count, line):
    """A referral's rewards go to Saleor as one aliased request per step, built from the file's own
    syntax tree: each copy asks exactly what the file asks, with its own variables."""
    from graphql import print_ast

    from plugin.saleor.client import aliased_document

    text = print_ast(aliased_document(name, count))
    assert [e.message for e in validate(schema(line), parse(text))] == []
    (operation,) = parse(text).definitions
    assert [f.alias.value for f in operation.selection_set.selections] == [f"r{n}" for n in range(count)]
    single = parse((GRAPHQL_DIR / f"{name}.graphql").read_text()).definitions[0]
    assert len(operation.variable_definitions) == count * len(single.variable_definitions)
