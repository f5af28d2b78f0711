"""Webhook ingest: verify, persist, acknowledge. The work happens in a task.

Thin on purpose: everything slow or fallible after the signature check runs in
`plugin.webhooks.tasks.process_event`.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, jsonify, request

from plugin.http import json_error, parse_json
from plugin.saleor.client import SaleorUnavailable
from plugin.tasks import runner
from plugin.tenants import service as tenants
from plugin.tenants.directory import KnownShop, shop_directory
from plugin.webhooks.signature import SignatureError, verify_webhook_signature
from plugin.webhooks.store import StorageUnavailable, UnknownShop, store_event
from plugin.webhooks.tasks import process_event

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

ORDER_EVENTS = {
    "order_created",
    "order_paid",
    "order_fully_paid",
    "order_updated",
    "order_cancelled",
    "order_refunded",
    "order_fully_refunded",
    "order_fulfilled",
}


# The two answers Saleor gets most, encoded once.
_STORED = json.dumps({"ok": True, "duplicate": False}).encode()
_DUPLICATE = json.dumps({"ok": True, "duplicate": True}).encode()


def _signed_by(jwks: dict | None, signature: str, raw: bytes) -> bool:
    try:
        verify_webhook_signature(signature, raw, jwks or {})
        return True
    except SignatureError:  # UnknownKey included
        return False


def _verify(shop: KnownShop, signature: str, raw: bytes) -> KnownShop | None:
    """The shop whose key signed `raw`: the cached JWKS first, then the stored row (the cache may
    predate a reinstall), then one rate-limited refetch from Saleor (a key rotation)."""
    if _signed_by(shop.jwks, signature, raw):
        return shop
    directory = shop_directory()
    tenant = tenants.find_tenant(shop.saleor_api_url)
    if tenant is None or tenant.jwks is None:
        directory.forget(shop.saleor_api_url)
        return None
    stored = directory.remember(tenant)
    if stored is not None and _signed_by(stored.jwks, signature, raw):
        return stored
    fresh = tenants.refresh_jwks(tenant)
    if fresh is not None and _signed_by(fresh, signature, raw):
        return directory.remember(tenant)
    return None


def _verified_delivery(expected_events: set[str]):
    """(shop, event, raw body, payload) or an error response."""
    raw = request.get_data(cache=True)
    if request.content_length is not None and request.content_length > current_app.config["SETTINGS"].max_webhook_bytes:
        return None, json_error(413, "PAYLOAD_TOO_LARGE", "Body exceeds the size limit.")
    api_url = request.headers.get("Saleor-Api-Url", "").strip()
    event = (request.headers.get("Saleor-Event") or request.headers.get("X-Saleor-Event") or "").strip().lower()
    signature = (request.headers.get("Saleor-Signature") or request.headers.get("X-Saleor-Signature") or "").strip()
    if not api_url or not event or not signature:
        return None, json_error(
            400, "MISSING_HEADERS", "Saleor-Api-Url, Saleor-Event and Saleor-Signature are required."
        )
    if event not in expected_events:
        return None, json_error(400, "UNEXPECTED_EVENT", f"Event {event[:64]!r} is not handled here.")
    shop = shop_directory().get(api_url)
    if shop is None:
        return None, json_error(401, "UNKNOWN_TENANT", "This Saleor instance has not installed the app.")
    shop = _verify(shop, signature, raw)
    if shop is None:
        return None, json_error(401, "INVALID_SIGNATURE", "The Saleor-Signature does not match the body.")
    try:
        payload = parse_json(raw)
    except (ValueError, UnicodeDecodeError):
        return None, json_error(400, "INVALID_JSON", "Body is not valid JSON.")
    if not isinstance(payload, dict):
        return None, json_error(400, "INVALID_PAYLOAD", "Body must be a JSON object.")
    return (shop, event, raw, payload), None


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _order_payload_problem(payload: dict, raw: bytes) -> str | None:
    """Refuse only what cannot be stored or keyed; everything else is Saleor's word."""
    order = payload.get("order")
    if not isinstance(order, dict):
        return "Order events need an `order` object."
    order_id = order.get("id")
    if not isinstance(order_id, str) or not order_id or len(order_id) > 255:
        return "The order needs a string `id` of at most 255 characters."
    # JSON can only carry NUL escaped; skip the walk over the payload when no escape is there.
    if b"\\u0000" in raw and _has_nul(payload):
        return "NUL characters are not allowed."
    return None


@bp.post("/api/webhooks/saleor")
@bp.post("/api/webhooks/saleor/")
def order_events():
    delivery, error = _verified_delivery(ORDER_EVENTS)
    if error:
        return error
    shop, event, raw, payload = delivery
    problem = _order_payload_problem(payload, raw)
    if problem:
        return json_error(400, "INVALID_PAYLOAD", problem)
    relayed = runner().relays_stored_events
    try:
        event_id = store_event(shop.id, event, raw, payload, relayed=relayed)
    except StorageUnavailable as exc:
        log.warning("database unavailable while storing %s: %s", event, exc)
        # 503 → Saleor retries the delivery later; nothing was acknowledged.
        return json_error(503, "STORAGE_UNAVAILABLE", "Try again later.")
    except UnknownShop:  # the tenant row went away under a cached entry
        shop_directory().forget(shop.saleor_api_url)
        return json_error(401, "UNKNOWN_TENANT", "This Saleor instance has not installed the app.")
    if event_id is not None and not relayed:
        process_event.enqueue(shop.id, event_id)
    return Response(_DUPLICATE if event_id is None else _STORED, 200, mimetype="application/json")


@bp.post("/api/webhooks/app-deleted")
@bp.post("/api/webhooks/app-deleted/")
def app_deleted():
    delivery, error = _verified_delivery({"app_deleted"})
    if error:
        return error
    shop, _event, _raw, payload = delivery
    try:
        removed = tenants.handle_app_deleted(shop.id, payload)
    except SaleorUnavailable:
        # Nothing changed; 503 makes Saleor deliver again, when we can ask it about our token.
        return json_error(503, "SALEOR_UNREACHABLE", "Could not confirm the uninstall with Saleor; try again later.")
    if removed:
        shop_directory().forget(shop.saleor_api_url)
    return jsonify({"ok": True, "uninstalled": removed}), 200
