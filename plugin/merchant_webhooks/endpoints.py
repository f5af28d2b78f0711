"""The merchant's webhook endpoints: validation, signing secrets, enable/disable, audit.

URLs must be HTTPS on a public address: the app calls them from inside the operator's network,
so loopback, private and link-local targets are refused (plugin.netpolicy). The setting
WEBHOOKS_ALLOW_LOCAL lifts that for tests and local development (plain http, loopback, private).
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.db import session_scope, utcnow
from plugin.http import ApiError
from plugin.merchant_webhooks.models import WebhookDelivery, WebhookEndpoint
from plugin.merchant_webhooks.policy import EVENT_TYPES, isoformat, retry_window, settings
from plugin.netpolicy import UrlRefused, check_url
from plugin.program.models import SettingsChange
from plugin.tenants.crypto import TokenBox

MAX_ENDPOINTS = 10
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION = 200
# After a rotation the old secret keeps signing (a second signature) this long, so receivers
# can switch without losing a message.
PREVIOUS_SECRET_GRACE = timedelta(hours=24)


def invalid(fields: dict[str, str]) -> ApiError:
    return ApiError(
        400, "INVALID_ENDPOINT", "Some fields of the endpoint are not valid; nothing was changed.", fields=fields
    )


def url_problem(url: str, cfg) -> str | None:
    """Why the app will not call `url`, in words for the merchant; None if it will."""
    if any(ch.isspace() or not ch.isprintable() for ch in url) or "\\" in url:
        return "must not contain spaces, backslashes or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "is not a valid URL"
    allowed = ("https", "http") if cfg.webhooks_allow_local else ("https",)
    if parts.scheme not in allowed:
        return "must start with https://"
    if not parts.hostname:
        return "must name a host, e.g. https://crm.example.com/hooks/referrals"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password (requests are signed instead)"
    if parts.fragment:
        return "must not contain a #fragment"
    try:
        check_url(url, allow_loopback=cfg.webhooks_allow_local, allow_private=cfg.webhooks_allow_local)
    except UrlRefused as exc:
        return f"must be a public address ({exc.reason})"
    return None


def _validate(body: object, *, creating: bool) -> dict:
    if not isinstance(body, dict):
        raise invalid({"body": "must be a JSON object"})
    fields: dict[str, str] = {}
    clean: dict = {}
    if "url" in body or creating:
        url = body.get("url")
        if not isinstance(url, str) or not url.strip():
            fields["url"] = "is required: the HTTPS address of your system"
        elif len(url.strip()) > MAX_URL_LENGTH:
            fields["url"] = f"must be at most {MAX_URL_LENGTH} characters"
        else:
            problem = url_problem(url.strip(), settings())
            if problem:
                fields["url"] = problem
            else:
                clean["url"] = url.strip()
    if "description" in body:
        description = body["description"]
        if description is None:
            description = ""
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            fields["description"] = f"must be text of at most {MAX_DESCRIPTION} characters"
        else:
            clean["description"] = "".join(ch for ch in description.strip() if ch.isprintable())
    if "events" in body:
        events = body["events"]
        if events is None:
            clean["event_types"] = None
        elif (
            not isinstance(events, list)
            or not events
            or not all(isinstance(e, str) and e in EVENT_TYPES for e in events)
        ):
            fields["events"] = "must be null (every event) or a non-empty list of: " + ", ".join(EVENT_TYPES)
        else:
            clean["event_types"] = [e for e in EVENT_TYPES if e in events]
    for flag in ("enabled", "resend_failed"):
        if flag in body:
            if creating or not isinstance(body[flag], bool):
                fields[flag] = "must be true or false" if not creating else "cannot be set when creating"
            else:
                clean[flag] = body[flag]
    unknown = sorted(set(body) - {"url", "description", "events", "enabled", "resend_failed"})
    for key in unknown:
        fields[str(key)[:50]] = "is not a setting of an endpoint"
    if fields:
        raise invalid(fields)
    return clean


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _box() -> TokenBox:
    return TokenBox(settings().secret_key)


def describe(endpoint: WebhookEndpoint, counts: dict[str, int] | None = None) -> dict:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.event_types,
        "enabled": endpoint.enabled,
        "disabled_at": isoformat(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": isoformat(endpoint.failing_since),
        "consecutive_failures": endpoint.consecutive_failures,
        "last_success_at": isoformat(endpoint.last_success_at),
        "previous_secret_until": isoformat(endpoint.previous_secret_until)
        if endpoint.previous_secret_until and endpoint.previous_secret_until > utcnow()
        else None,
        "created_at": isoformat(endpoint.created_at),
        "deliveries": counts or {WebhookDelivery.PENDING: 0, WebhookDelivery.FAILED: 0},
    }


def list_endpoints(session: Session, tenant_id: int) -> list[dict]:
    endpoints = session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id).order_by(WebhookEndpoint.id)
    ).all()
    counts: dict[int, dict[str, int]] = {
        e.id: {WebhookDelivery.PENDING: 0, WebhookDelivery.FAILED: 0} for e in endpoints
    }
    rows = session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
        .where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.status.in_([WebhookDelivery.PENDING, WebhookDelivery.FAILED]),
        )
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)
    ).all()
    for endpoint_id, status, count in rows:
        if endpoint_id in counts:
            counts[endpoint_id][status] = count
    return [describe(e, counts[e.id]) for e in endpoints]


def _audit(session: Session, tenant_id: int, actor: str, endpoint_id: int, changes: dict) -> None:
    if changes:
        session.add(
            SettingsChange(
                tenant_id=tenant_id,
                actor=actor,
                at=utcnow(),
                changes={f"webhooks.{endpoint_id}.{key}": change for key, change in changes.items()},
            )
        )


def _locked(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).with_for_update())
    if endpoint is None:
        raise ApiError(404, "NOT_FOUND", "No such webhook endpoint in this shop.")
    return endpoint


def _url_taken(session: Session, tenant_id: int, url: str, except_id: int | None = None) -> bool:
    query = select(WebhookEndpoint.id).where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.url == url)
    if except_id is not None:
        query = query.where(WebhookEndpoint.id != except_id)
    return session.scalar(query) is not None


def create(tenant_id: int, body: object, *, actor: str) -> tuple[dict, str]:
    """A new endpoint and its signing secret: the only time the secret is shown."""
    clean = _validate(body, creating=True)
    secret = new_secret()
    with session_scope(tenant_id) as session:
        count = session.scalar(select(func.count(WebhookEndpoint.id)).where(WebhookEndpoint.tenant_id == tenant_id))
        if count >= MAX_ENDPOINTS:
            raise ApiError(409, "TOO_MANY_ENDPOINTS", f"A shop can have at most {MAX_ENDPOINTS} endpoints.")
        if _url_taken(session, tenant_id, clean["url"]):
            raise invalid({"url": "is already an endpoint of this shop"})
        endpoint = WebhookEndpoint(
            tenant_id=tenant_id,
            url=clean["url"],
            description=clean.get("description", ""),
            event_types=clean.get("event_types"),
            secret_encrypted=_box().encrypt(secret),
            enabled=True,
        )
        try:
            with session.begin_nested():
                session.add(endpoint)
        except IntegrityError:  # the same URL saved at the same moment by someone else
            raise invalid({"url": "is already an endpoint of this shop"}) from None
        _audit(
            session,
            tenant_id,
            actor,
            endpoint.id,
            {"url": {"from": None, "to": endpoint.url}, "events": {"from": None, "to": endpoint.event_types or "all"}},
        )
        return describe(endpoint), secret


def update_endpoint(tenant_id: int, endpoint_id: int, body: object, *, actor: str) -> tuple[dict, int]:
    """Change URL, description, events or enabled. Enabling clears the health record; with
    `resend_failed` the endpoint's failed deliveries go back in the queue (with a new retry window).
    Returns the endpoint and how many deliveries were queued again."""
    clean = _validate(body, creating=False)
    with session_scope(tenant_id) as session:
        resent = 0
        if clean.get("resend_failed"):
            # Deliveries before the endpoint row: the order a delivery task locks them in.
            if session.get(WebhookEndpoint, endpoint_id) is None:
                raise ApiError(404, "NOT_FOUND", "No such webhook endpoint in this shop.")
            now = utcnow()
            resent = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.tenant_id == tenant_id,
                    WebhookDelivery.endpoint_id == endpoint_id,
                    WebhookDelivery.status == WebhookDelivery.FAILED,
                )
                .values(
                    status=WebhookDelivery.PENDING,
                    next_attempt_at=now,
                    give_up_at=now + retry_window(),
                    redriven_at=None,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
        endpoint = _locked(session, endpoint_id)
        if "url" in clean and _url_taken(session, tenant_id, clean["url"], except_id=endpoint.id):
            raise invalid({"url": "is already an endpoint of this shop"})
        changes = {}
        for key, column in (
            ("url", "url"),
            ("description", "description"),
            ("event_types", "event_types"),
            ("enabled", "enabled"),
        ):
            if key in clean and getattr(endpoint, column) != clean[key]:
                changes["events" if key == "event_types" else key] = {
                    "from": getattr(endpoint, column),
                    "to": clean[key],
                }
                setattr(endpoint, column, clean[key])
        if changes.get("enabled", {}).get("to") is True:
            endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None
            endpoint.consecutive_failures = 0
        elif changes.get("enabled", {}).get("to") is False:
            endpoint.disabled_at = utcnow()
            endpoint.disabled_reason = f"Disabled by {actor}."
        if "url" in changes:  # a new address starts with a clean health record
            endpoint.failing_since, endpoint.consecutive_failures = None, 0
        if clean.get("resend_failed") and not endpoint.enabled:
            raise ApiError(
                409,
                "ENDPOINT_DISABLED",
                'The endpoint is disabled: enable it ("enabled": true) to send its failed events.',
            )
        if resent:
            changes["resend_failed"] = {"from": None, "to": resent}
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise invalid({"url": "is already an endpoint of this shop"}) from None
        _audit(session, tenant_id, actor, endpoint.id, changes)
        return describe(endpoint), resent


def delete_endpoint(tenant_id: int, endpoint_id: int, *, actor: str) -> None:
    with session_scope(tenant_id) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            raise ApiError(404, "NOT_FOUND", "No such webhook endpoint in this shop.")
        url = endpoint.url
        # Deliveries first (waits for one being sent), then the endpoint: the order a delivery task locks in.
        session.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.endpoint_id == endpoint_id)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == endpoint_id)
            .execution_options(synchronize_session=False)
        )
        _audit(session, tenant_id, actor, endpoint_id, {"url": {"from": url, "to": None}})


def rotate_secret(tenant_id: int, endpoint_id: int, *, actor: str) -> tuple[dict, str]:
    """A new secret, shown once; the old one keeps signing alongside for PREVIOUS_SECRET_GRACE."""
    secret = new_secret()
    with session_scope(tenant_id) as session:
        endpoint = _locked(session, endpoint_id)
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_until = utcnow() + PREVIOUS_SECRET_GRACE
        endpoint.secret_encrypted = _box().encrypt(secret)
        _audit(session, tenant_id, actor, endpoint.id, {"secret": {"from": "(previous)", "to": "(rotated)"}})
        return describe(endpoint), secret
