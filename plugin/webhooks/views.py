"""Webhook ingest: verify, persist, acknowledge. The work happens in a task.

Thin on purpose: everything slow or fallible after the signature check runs in
`plugin.webhooks.tasks.process_event`.
"""
from __future__ import annotations

import hashlib
import json
import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from plugin import tasks
from plugin.db import session_scope
from plugin.http import json_error
from plugin.tenants import service as tenants
from plugin.webhooks.models import WebhookEvent
from plugin.webhooks.signature import SignatureError, UnknownKey, verify_webhook_signature

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

ORDER_EVENTS = {
    "order_created", "order_paid", "order_fully_paid", "order_updated", "order_cancelled",
    "order_refunded", "order_fully_refunded", "order_fulfilled",
}


def _verify(tenant, signature: str, raw: bytes) -> bool:
    """Check against the stored JWKS; on failure refetch it once (rate-limited) and retry."""
    try:
        verify_webhook_signature(signature, raw, json.loads(tenant.jwks or "{}"))
        return True
    except UnknownKey:
        pass
    except SignatureError:
        pass
    fresh = tenants.refresh_jwks(tenant)
    if fresh is None:
        return False
    try:
        verify_webhook_signature(signature, raw, fresh)
        return True
    except SignatureError:
        return False


def _verified_delivery(expected_events: set[str]):
    """(tenant, event, raw body, payload) or an error response."""
    raw = request.get_data(cache=True)
    if request.content_length is not None and request.content_length > current_app.config["SETTINGS"].max_webhook_bytes:
        return None, json_error(413, "PAYLOAD_TOO_LARGE", "Body exceeds the size limit.")
    api_url = request.headers.get("Saleor-Api-Url", "").strip()
    event = (request.headers.get("Saleor-Event") or request.headers.get("X-Saleor-Event") or "").strip().lower()
    signature = (request.headers.get("Saleor-Signature") or request.headers.get("X-Saleor-Signature") or "").strip()
    if not api_url or not event or not signature:
        return None, json_error(400, "MISSING_HEADERS", "Saleor-Api-Url, Saleor-Event and Saleor-Signature are required.")
    if event not in expected_events:
        return None, json_error(400, "UNEXPECTED_EVENT", f"Event {event[:64]!r} is not handled here.")
    tenant = tenants.find_tenant(api_url)
    if tenant is None or tenant.jwks is None:
        return None, json_error(401, "UNKNOWN_TENANT", "This Saleor instance has not installed the app.")
    if not _verify(tenant, signature, raw):
        return None, json_error(401, "INVALID_SIGNATURE", "The Saleor-Signature does not match the body.")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, json_error(400, "INVALID_JSON", "Body is not valid JSON.")
    if not isinstance(payload, dict):
        return None, json_error(400, "INVALID_PAYLOAD", "Body must be a JSON object.")
    return (tenant, event, raw, payload), None


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _order_payload_problem(payload: dict) -> str | None:
    """Refuse only what cannot be stored or keyed; everything else is Saleor's word."""
    order = payload.get("order")
    if not isinstance(order, dict):
        return "Order events need an `order` object."
    order_id = order.get("id")
    if not isinstance(order_id, str) or not order_id or len(order_id) > 255:
        return "The order needs a string `id` of at most 255 characters."
    if _has_nul(payload):
        return "NUL characters are not allowed."
    return None


def store_event(tenant_id: int, event: str, raw: bytes, payload: dict) -> tuple[int | None, bool]:
    """Persist the delivery; (event id, is_new). A redelivery of the same bytes is recognised."""
    digest = hashlib.sha256(raw).hexdigest()
    order = payload.get("order") if isinstance(payload.get("order"), dict) else {}
    row = WebhookEvent(
        tenant_id=tenant_id, event_type=event, order_id=order.get("id"),
        body_sha256=digest, body=raw.decode("utf-8"), issued_at=str(payload.get("issuedAt") or "")[:64] or None,
    )
    try:
        with session_scope(tenant_id) as session:
            session.add(row)
        return row.id, True
    except IntegrityError:
        with session_scope(tenant_id) as session:
            existing = session.scalar(select(WebhookEvent).where(
                WebhookEvent.event_type == event, WebhookEvent.body_sha256 == digest))
            return (existing.id if existing else None), False


@bp.post("/api/webhooks/saleor")
@bp.post("/api/webhooks/saleor/")
def order_events():
    delivery, error = _verified_delivery(ORDER_EVENTS)
    if error:
        return error
    tenant, event, raw, payload = delivery
    problem = _order_payload_problem(payload)
    if problem:
        return json_error(400, "INVALID_PAYLOAD", problem)
    try:
        event_id, is_new = store_event(tenant.id, event, raw, payload)
    except OperationalError:
        log.exception("database unavailable while storing %s", event)
        # 503 → Saleor retries the delivery later; nothing was acknowledged.
        return json_error(503, "STORAGE_UNAVAILABLE", "Try again later.")
    if is_new:
        tasks.enqueue("process_event", tenant.id, event_id)
    return jsonify({"ok": True, "duplicate": not is_new}), 200


@bp.post("/api/webhooks/app-deleted")
@bp.post("/api/webhooks/app-deleted/")
def app_deleted():
    delivery, error = _verified_delivery({"app_deleted"})
    if error:
        return error
    tenant, _event, _raw, payload = delivery
    app_id = (payload.get("app") or {}).get("id") if isinstance(payload.get("app"), dict) else None
    removed = tenants.uninstall(tenant.id, app_id)
    return jsonify({"ok": True, "uninstalled": removed}), 200
