"""Saleor's word about an order, kept in `orders` (`OrderRecord`).

`read_order` asks Saleor with the shop's own token; `upsert_order` merges the answer into the
order's row under its row lock. Every decision about money rests on these two.
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.db import insert_unless_present, utcnow
from plugin.i18n import pick_locale
from plugin.identity import canonical_code, fingerprint, normalize_email
from plugin.referrals.models import OrderRecord
from plugin.saleor.client import SaleorPermissionDenied
from plugin.tenants.models import Tenant
from plugin.tenants.service import saleor_client

PAID_CHARGE_STATUSES = {"FULL", "OVERCHARGED"}


def _money(value) -> Decimal:
    if isinstance(value, dict):
        value = value.get("amount")
    try:
        amount = Decimal(str(value if value is not None else 0))
    except ArithmeticError:
        return Decimal(0)
    # Money columns hold 18 digits with 4 decimals; anything else is not a price.
    return amount if amount.is_finite() and abs(amount) < Decimal("1e13") else Decimal(0)


def _text(value, limit: int) -> str | None:
    """Payload strings as stored: anything else becomes None, overlong text is cut to the column."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value[:limit] if isinstance(value, str) and value else None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _gross(order: dict) -> dict:
    total = order.get("total")
    gross = total.get("gross") if isinstance(total, dict) else None
    return gross if isinstance(gross, dict) else {}


def _was_fully_paid(order: dict) -> bool:
    """Saleor's numbers say the order was paid in full at some point: it is now, or what is still
    charged plus what was refunded covers the total (a refund takes back what was charged, so an
    order refunded before we first read it still shows it was paid)."""
    if order.get("isPaid") or order.get("chargeStatus") in PAID_CHARGE_STATUSES:
        return True
    total = _money(_gross(order))
    return total > 0 and _money(order.get("totalCharged")) + _money(order.get("totalRefunded")) >= total


def reached_trigger(record: OrderRecord, trigger: str) -> bool:
    if trigger == "FULFILLED":
        return record.is_paid and record.status in {"FULFILLED", "PARTIALLY_RETURNED", "RETURNED"}
    return record.is_paid


def _metadata(order: dict, key: str) -> str | None:
    for item in order.get("metadata") or []:
        if isinstance(item, dict) and item.get("key") == key and isinstance(item.get("value"), str):
            return item["value"]
    return None


def names_an_order(order_id: str) -> bool:
    """Whether `order_id` is a Saleor global id of an Order (base64 of "Order:<key>")."""
    try:
        kind, _, key = base64.b64decode(order_id, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return kind == "Order" and bool(key)


def read_order(tenant: Tenant, order_id: str) -> dict | None:
    """The order as Saleor shows it to this shop's app now, in the webhook payload's shape; None
    when Saleor has no such order for our token. Every decision about money rests on this answer.

    Raises `SaleorUnavailable` when Saleor cannot be reached and `SaleorPermissionDenied` when
    Saleor no longer takes our token for our app: the caller retries later, it never guesses.
    Call it outside row locks: a slow Saleor must not hold them.
    """
    if not names_an_order(order_id):
        return None
    answered_as, order = saleor_client(tenant).order(order_id)
    if answered_as is None or answered_as != tenant.app_id:
        raise SaleorPermissionDenied("Saleor did not answer the order read as this shop's app.")
    return order if isinstance(order, dict) and isinstance(order.get("id"), str) else None


def upsert_order(session: Session, tenant_id: int, order: dict, trigger_status: str | None = None) -> OrderRecord:
    """Lock the order's row (creating it if new) and merge Saleor's answer into it.

    Answers show the order when Saleor gave them, and concurrent tasks apply them in any
    order; only one at least as new (`updatedAt`) replaces the state, while facts that
    never un-happen (was paid, was cancelled, amount refunded) are sticky. With `trigger_status`
    (the program's), the moment the order first reached it is stamped in the same write.
    """
    order_id = order["id"]
    query = select(OrderRecord).where(OrderRecord.tenant_id == tenant_id, OrderRecord.saleor_order_id == order_id)
    record = session.scalar(query.with_for_update())
    if record is None:
        new = OrderRecord(tenant_id=tenant_id, saleor_order_id=order_id)
        _merge(new, order, trigger_status)
        stored = insert_unless_present(session, new, "tenant_id", "saleor_order_id")
        if stored is not None:
            return stored  # inserted with Saleor's answer in it, and locked by that insert until commit
        record = session.scalar(query.with_for_update())  # another worker inserted it first
    _merge(record, order, trigger_status)
    return record


def _merge(record: OrderRecord, order: dict, trigger_status: str | None) -> None:
    user = _dict(order.get("user"))
    address = _dict(order.get("shippingAddress"))
    billing = _dict(order.get("billingAddress"))
    channel = _dict(order.get("channel"))
    updated_at = _text(order.get("updatedAt"), 64) or ""
    newer = not record.saleor_updated_at or updated_at >= record.saleor_updated_at

    contact = (_text(order.get("userEmail"), 320) or _text(user.get("email"), 320) or "").strip()
    if newer or not record.email:
        record.number = _text(order.get("number"), 32) or record.number or ""
        record.channel_slug = _text(channel.get("slug"), 255) or record.channel_slug
        record.saleor_channel_id = _text(channel.get("id"), 255) or record.saleor_channel_id
        record.currency = _text(_gross(order).get("currency") or channel.get("currencyCode"), 3) or record.currency
        record.contact_email = contact or record.contact_email
        record.email = normalize_email(contact) or record.email
        record.first_name = (
            _text(user.get("firstName"), 120)
            or _text(billing.get("firstName"), 120)
            or _text(address.get("firstName"), 120)
            or record.first_name
            or ""
        )
        record.saleor_user_id = _text(user.get("id"), 255) or record.saleor_user_id
        record.locale = pick_locale(_text(order.get("languageCodeEnum"), 16), default=record.locale or "en")
        record.total = _money(_gross(order))
        subtotal = _dict(order.get("subtotal"))
        if isinstance(subtotal.get("net"), dict):
            record.subtotal_net = _money(subtotal["net"])
        shipping = _dict(_dict(order.get("shippingPrice")).get("gross"))
        if shipping and isinstance(order.get("undiscountedShippingPrice"), dict):
            record.shipping_discount = max(Decimal(0), _money(order["undiscountedShippingPrice"]) - _money(shipping))
        record.voucher_code = (_text(order.get("voucherCode"), 255) or "").strip().upper() or None
        record.referral_code = canonical_code(_metadata(order, "referral_code"))
        if address:
            record.shipping_fingerprint = fingerprint(
                _text(address.get("streetAddress1"), 512),
                _text(address.get("streetAddress2"), 512),
                _text(address.get("postalCode"), 64),
                _text(_dict(address.get("country")).get("code"), 8),
            )
    if newer:
        record.saleor_updated_at = updated_at[:64]
        record.status = _text(order.get("status"), 32) or record.status
        record.charge_status = _text(order.get("chargeStatus"), 32) or record.charge_status
        record.total_charged = _money(order.get("totalCharged"))
    record.is_paid = record.is_paid or _was_fully_paid(order)
    record.cancelled = record.cancelled or order.get("status") == "CANCELED"
    record.total_refunded = max(record.total_refunded or Decimal(0), _money(order.get("totalRefunded")))
    if trigger_status and record.reached_trigger_at is None and reached_trigger(record, trigger_status):
        record.reached_trigger_at = utcnow()
