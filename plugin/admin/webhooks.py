"""Admin API for outbound webhooks: endpoints, signing secrets, the delivery log, redelivery.

Docs: docs/ADMIN_API.md, "Webhooks". The domain lives in plugin.merchant_webhooks; these views only
check input and shape answers.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.admin.auth import current_user, dashboard_auth
from plugin.db import session_scope
from plugin.http import ApiError, json_body
from plugin.merchant_webhooks import delivery as outbound_delivery
from plugin.merchant_webhooks import endpoints
from plugin.merchant_webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from plugin.merchant_webhooks.policy import EVENT_TYPES, isoformat, settings

log = logging.getLogger(__name__)

bp = Blueprint("admin_webhooks", __name__, url_prefix="/api/admin/webhooks")
STATUSES = (WebhookDelivery.PENDING, WebhookDelivery.DELIVERED, WebhookDelivery.FAILED)


def _actor() -> str:
    user = current_user()
    return user.email or user.actor


def _bad_parameter(name: str, problem: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER", "Bad query parameter.", fields={name: problem})


def _int_arg(name: str, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise _bad_parameter(name, f"must be a whole number from {low} to {high}")
    return value


# Who did what is in the audit trail (settings history); logs carry ids only.

# -- endpoints -------------------------------------------------------------------------------------


@bp.get("")
@dashboard_auth()
def list_endpoints():
    user = current_user()
    cfg = settings()
    with session_scope(user.tenant_id) as session:
        items = endpoints.list_endpoints(session, user.tenant_id)
    return jsonify(
        {
            "endpoints": items,
            "event_types": list(EVENT_TYPES),
            "max_endpoints": endpoints.MAX_ENDPOINTS,
            "retry_hours": cfg.webhook_retry_hours,
            "allow_local": cfg.webhooks_allow_local,
        }
    )


@bp.post("")
@dashboard_auth()
def create_endpoint():
    user = current_user()
    endpoint, secret = endpoints.create(user.tenant_id, json_body(), actor=_actor())
    log.info("webhook endpoint %s of tenant %s created", endpoint["id"], user.tenant_id)
    return jsonify({"endpoint": endpoint, "secret": secret}), 201


@bp.patch("/<int:endpoint_id>")
@dashboard_auth()
def update_endpoint(endpoint_id: int):
    user = current_user()
    endpoint, resent = endpoints.update_endpoint(user.tenant_id, endpoint_id, json_body(), actor=_actor())
    log.info("webhook endpoint %s of tenant %s changed", endpoint_id, user.tenant_id)
    return jsonify({"endpoint": endpoint, "resent": resent})


@bp.delete("/<int:endpoint_id>")
@dashboard_auth()
def delete_endpoint(endpoint_id: int):
    user = current_user()
    endpoints.delete_endpoint(user.tenant_id, endpoint_id, actor=_actor())
    log.info("webhook endpoint %s of tenant %s deleted", endpoint_id, user.tenant_id)
    return jsonify({"deleted": endpoint_id})


@bp.post("/<int:endpoint_id>/rotate-secret")
@dashboard_auth()
def rotate_secret(endpoint_id: int):
    user = current_user()
    endpoint, secret = endpoints.rotate_secret(user.tenant_id, endpoint_id, actor=_actor())
    log.info("webhook endpoint %s of tenant %s: secret rotated", endpoint_id, user.tenant_id)
    return jsonify({"endpoint": endpoint, "secret": secret})


# -- the delivery log ------------------------------------------------------------------------------


def _describe(delivery: WebhookDelivery, message: WebhookMessage, endpoint: WebhookEndpoint) -> dict:
    return {
        "id": delivery.id,
        "webhook_id": message.msg_id,
        "event_type": message.event_type,
        "endpoint": {"id": endpoint.id, "url": endpoint.url},
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_attempt_at": isoformat(delivery.last_attempt_at),
        "next_attempt_at": isoformat(delivery.next_attempt_at) if delivery.status == WebhookDelivery.PENDING else None,
        "give_up_at": isoformat(delivery.give_up_at) if delivery.status == WebhookDelivery.PENDING else None,
        "delivered_at": isoformat(delivery.delivered_at),
        "created_at": isoformat(delivery.created_at),
    }


def _one(session: Session, delivery_id: int) -> dict | None:
    row = session.execute(
        select(WebhookDelivery, WebhookMessage, WebhookEndpoint)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == delivery_id)
    ).first()
    if row is None:
        return None
    delivery, message, endpoint = row
    attempts = session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
    ).all()
    return {
        **_describe(delivery, message, endpoint),
        "payload": json.loads(message.body),
        "history": [
            {
                "at": isoformat(a.at),
                "status_code": a.status_code,
                "error": a.error,
                "response_body": a.response_body,
                "duration_ms": a.duration_ms,
                "manual": a.manual,
            }
            for a in attempts
        ],
    }


@bp.get("/deliveries")
@dashboard_auth()
def list_deliveries():
    user = current_user()
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise _bad_parameter("status", "must be " + ", ".join(STATUSES))
    event_type = request.args.get("event") or None
    if event_type is not None and event_type not in EVENT_TYPES:
        raise _bad_parameter("event", "must be one of " + ", ".join(EVENT_TYPES))
    endpoint_id = _int_arg("endpoint", 1, 2**62)
    limit = _int_arg("limit", 1, 500) or 100
    before_id = _int_arg("before_id", 1, 2**62)
    conditions = [WebhookDelivery.tenant_id == user.tenant_id]
    if status:
        conditions.append(WebhookDelivery.status == status)
    if event_type:
        conditions.append(WebhookMessage.event_type == event_type)
    if endpoint_id:
        conditions.append(WebhookDelivery.endpoint_id == endpoint_id)
    if before_id:
        conditions.append(WebhookDelivery.id < before_id)
    with session_scope(user.tenant_id) as session:
        rows = session.execute(
            select(WebhookDelivery, WebhookMessage, WebhookEndpoint)
            .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(*conditions)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit + 1)
        ).all()
        items = [_describe(*row) for row in rows[:limit]]
    return jsonify({"items": items, "next_before_id": items[-1]["id"] if len(rows) > limit else None})


@bp.get("/deliveries/<int:delivery_id>")
@dashboard_auth()
def get_delivery(delivery_id: int):
    user = current_user()
    with session_scope(user.tenant_id) as session:
        data = _one(session, delivery_id)
    if data is None:
        raise ApiError(404, "NOT_FOUND", "No such delivery in this shop.")
    return jsonify(data)


@bp.post("/deliveries/<int:delivery_id>/redeliver")
@dashboard_auth()
def redeliver(delivery_id: int):
    """Send it again now (same webhook-id and body); the answer shows how that went."""
    user = current_user()
    outbound_delivery.redeliver(user.tenant_id, delivery_id)
    log.info("webhook delivery %s of tenant %s redelivered by hand", delivery_id, user.tenant_id)
    with session_scope(user.tenant_id) as session:
        return jsonify(_one(session, delivery_id))
