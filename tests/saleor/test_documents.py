"""Every GraphQL document the app sends, and the manifest's subscriptions, validate
against the real Saleor 3.23.28 schema (found by tests/saleor_schemas.py, never copied)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from plugin.saleor.client import GRAPHQL_DIR
from plugin.tenants.manifest import build_manifest
from tests.saleor_schemas import schema_file



@lru_cache(maxsize=1)
def schema():
    return build_schema(schema_file().read_text())


DOCUMENTS = sorted(GRAPHQL_DIR.glob("*.graphql"))


def test_documents_exist():
    assert {p.stem for p in DOCUMENTS} >= {"app_id", "voucher_create", "voucher_channel_listing_update",
                                           "voucher_code_bulk_delete", "order_events", "app_deleted"}


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_document_validates_against_saleor_schema(path):
    errors = validate(schema(), parse(path.read_text()))
    assert errors == []


def test_every_document_the_client_can_send_is_a_file():
    """The client only sends documents by file name; nothing is built from strings elsewhere."""
    import plugin.saleor.client as client_module

    source = Path(client_module.__file__).read_text()
    for name in ("app_id", "shop_info", "voucher_create", "voucher_channel_listing_update", "voucher_by_code",
                 "voucher_code_bulk_delete", "customer_orders", "order_for_referral"):
        assert f'"{name}"' in source
        assert (GRAPHQL_DIR / f"{name}.graphql").exists()


def test_manifest_subscriptions_validate():
    manifest = build_manifest("https://referrals.example.com")
    assert manifest["webhooks"], "the manifest declares webhooks"
    for webhook in manifest["webhooks"]:
        assert validate(schema(), parse(webhook["query"])) == [], webhook["name"]


def test_manifest_has_what_saleor_needs():
    manifest = build_manifest("https://referrals.example.com/")
    from plugin import __version__

    assert manifest["version"] == __version__
    assert manifest["tokenTargetUrl"] == "https://referrals.example.com/api/register"
    assert manifest["appUrl"].startswith("https://referrals.example.com/")
    assert set(manifest["permissions"]) == {"MANAGE_ORDERS", "MANAGE_DISCOUNTS"}
    assert manifest["requiredSaleorVersion"]
    targets = {w["targetUrl"] for w in manifest["webhooks"]}
    assert targets == {"https://referrals.example.com/api/webhooks/saleor",
                       "https://referrals.example.com/api/webhooks/app-deleted"}
    events = {e for w in manifest["webhooks"] for e in w["asyncEvents"]}
    assert {"ORDER_FULLY_PAID", "ORDER_PAID", "ORDER_REFUNDED", "ORDER_FULLY_REFUNDED", "ORDER_CANCELLED",
            "APP_DELETED"} <= events
    assert manifest["extensions"][0]["mount"] == "ORDER_DETAILS_WIDGETS"
    assert "{APP_URL}" not in str(manifest) and "{VERSION}" not in str(manifest)


def test_subscription_asks_for_every_field_the_pipeline_reads():
    """The captured order payloads carry what apply_order_event reads; our query asks for the same."""
    from tests.fixtures import load

    query = (GRAPHQL_DIR / "order_events.graphql").read_text()
    captured = load("order_fully_paid__A__3.json").payload["order"]
    for field in ("id", "number", "status", "chargeStatus", "isPaid", "userEmail", "voucherCode", "metadata",
                  "totalRefunded", "totalCharged", "languageCodeEnum", "shippingAddress", "updatedAt"):
        assert field in captured and field in query


@pytest.mark.parametrize("version", ["3.21.69", "3.22.67"])
def test_the_order_read_validates_against_older_saleor_releases(version):
    """The order read decides every reward, so it asks only for fields Saleor 3.21 and 3.22 have too."""
    older = build_schema(schema_file(version).read_text())
    assert validate(older, parse((GRAPHQL_DIR / "order_for_referral.graphql").read_text())) == []


def test_the_order_read_asks_for_every_field_the_pipeline_reads():
    """Decisions rest on the order read, in the webhook payload's shape: it asks for what apply_order_event reads."""
    from graphql import FieldNode, visit
    from graphql.language import Visitor

    asked: set[str] = set()

    class Fields(Visitor):
        def enter_field(self, node: FieldNode, *_args):
            asked.add(node.name.value)

    visit(parse((GRAPHQL_DIR / "order_for_referral.graphql").read_text()), Fields())
    assert asked >= {"app", "order", "id", "number", "updatedAt", "status", "chargeStatus", "isPaid", "userEmail",
                     "user", "firstName", "channel", "slug", "currencyCode", "total", "gross", "amount", "currency",
                     "totalCharged", "totalRefunded", "voucherCode", "metadata", "key", "value", "shippingAddress",
                     "billingAddress", "streetAddress1", "postalCode", "country", "code", "languageCodeEnum"}
