"""Install, uninstall and credentials of tenants (one per Saleor API URL)."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import or_, select, update

from plugin import netpolicy, outbound
from plugin.db import session_scope, utcnow
from plugin.http import ApiError
from plugin.saleor.client import (
    SaleorClient,
    SaleorError,
    SaleorGraphQLError,
    SaleorPermissionDenied,
    SaleorUnavailable,
)
from plugin.tenants.crypto import TokenBox
from plugin.tenants.directory import shop_directory
from plugin.tenants.models import Tenant

log = logging.getLogger(__name__)

# Refetching on a failed signature is how a key rotation is picked up; the interval stops
# forged deliveries from turning us into a load generator against Saleor's JWKS endpoint.
JWKS_REFETCH_INTERVAL = timedelta(seconds=10)
MAX_JWKS_BYTES = 8 * 1024  # Saleor publishes one or two RSA keys (~500 bytes each)
# Saleor's `shop.name` is read again this often (one call per shop per day, from the sweeper).
SHOP_NAME_REFRESH_INTERVAL = timedelta(days=1)
MAX_SHOP_NAME = 100  # a subject line or an OG card has room for a name, not a paragraph
# Bidirectional overrides and isolates could make a name read as something else around it.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def jwks_url(saleor_api_url: str) -> str:
    parts = urlsplit(saleor_api_url)
    return f"{parts.scheme}://{parts.netloc}/.well-known/jwks.json"


def fetch_jwks(saleor_api_url: str, timeout: float, address_policy: dict | None = None) -> str:
    """The JWKS as JSON text: no redirects, at most MAX_JWKS_BYTES, `timeout` for the whole call."""
    session = outbound.guarded_session(max_bytes=MAX_JWKS_BYTES, address_policy=address_policy)
    with session:
        response = session.get(jwks_url(saleor_api_url), timeout=timeout, allow_redirects=False)
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWKS")
    return json.dumps(data)


def token_box() -> TokenBox:
    cfg = current_app.config["SETTINGS"]
    return TokenBox(cfg.secret_key, cfg.old_secret_keys)


def _refuse_unless_callable(cfg, saleor_api_url: str) -> dict | None:
    """The allow-list, then (without one) the network policy: the same answer for every refused URL,
    so the install endpoint cannot be used to probe which ports or hosts answer. Returns the address
    policy the calls to this Saleor follow."""
    prohibited = ApiError(403, "SALEOR_URL_PROHIBITED", "This Saleor instance is not allowed to install the app.")
    if not cfg.saleor_api_url_allowed(saleor_api_url):
        raise prohibited
    policy = cfg.saleor_address_policy()
    if policy is None:
        return None
    try:
        netpolicy.check_url(saleor_api_url, **policy)
    except netpolicy.HostUnresolvable:
        raise ApiError(503, "SALEOR_UNREACHABLE", "The Saleor host name does not resolve.") from None
    except netpolicy.UrlRefused as exc:
        log.info("register: %s refused by the network policy: %s", saleor_api_url, exc.reason)
        raise prohibited from None
    return policy


def clean_shop_name(raw) -> str | None:
    """A shop name fit for subjects, headers, pages and pictures: line breaks (CR, LF, U+2028/2029)
    and other control characters become spaces, bidirectional controls go, runs of whitespace become
    one space, at most MAX_SHOP_NAME characters. None when nothing readable is left."""
    if not isinstance(raw, str):
        return None
    kept = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in raw if ch not in _BIDI_CONTROLS
    )
    name = re.sub(r"\s+", " ", kept).strip()
    if len(name) > MAX_SHOP_NAME:
        name = name[: MAX_SHOP_NAME - 1].rstrip() + "…"
    return name or None


def _read_shop_name(client: SaleorClient) -> tuple[bool, str | None]:
    """(whether Saleor answered, its cleaned `shop.name`)."""
    try:
        return True, clean_shop_name(client.shop_name())
    except SaleorError as exc:
        log.info("shop name of %s unavailable: %s", client.api_url, exc)
        return False, None


def register(saleor_api_url: str, domain: str, auth_token: str, *, saleor_version: str | None = None) -> Tenant:
    """PROTOCOL §2.2: allow-list, prove the token, fetch the JWKS, persist encrypted.
    `saleor_version` is the line (major.minor) Saleor named in `Saleor-Schema-Version`.

    An installed shop is replaced only by the same app (a reinstall) or when Saleor no longer
    takes its stored token (the app was deleted, then installed again): any other app of that
    Saleor holds a working token too, and must not take the shop over.
    """
    cfg = current_app.config["SETTINGS"]
    policy = _refuse_unless_callable(cfg, saleor_api_url)
    # Each call gets a slice of Saleor's 18 s read timeout; the view bounds the whole install.
    client = SaleorClient(
        saleor_api_url, auth_token, timeout=min(cfg.saleor_timeout, 5.0), retries=1, backoff=0.2, address_policy=policy
    )
    try:
        app_id = client.app_id()
    except SaleorUnavailable as exc:
        log.info("register: Saleor unreachable at %s: %s", saleor_api_url, exc)
        raise ApiError(
            503,
            "SALEOR_UNREACHABLE",
            "Saleor did not answer in time while checking the app token; try installing again.",
        ) from None
    except SaleorError as exc:
        log.info("register: app id check failed for %s: %s", saleor_api_url, exc)
        app_id = None
    if not app_id:
        raise ApiError(401, "UNKNOWN_APP_ID", "Saleor did not accept the app token (no app id).")
    installed = find_tenant(saleor_api_url)
    _refuse_takeover(installed, app_id)
    try:
        jwks = fetch_jwks(saleor_api_url, timeout=min(cfg.saleor_timeout, 5.0), address_policy=policy)
    except (requests.RequestException, ValueError) as exc:
        log.info("register: JWKS unavailable for %s: %s", saleor_api_url, exc)
        raise ApiError(401, "JWKS_NOT_AVAILABLE", "Could not fetch the JWKS of this Saleor instance.") from None
    # Shoppers read the shop's name in every e-mail and page; without it the install still succeeds
    # and the daily refresh asks again.
    named, shop_name = _read_shop_name(client)
    encrypted = token_box().encrypt(auth_token)
    with session_scope() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.saleor_api_url == saleor_api_url).with_for_update())
        if _credentials(tenant) != _credentials(installed):
            # Another registration or an uninstall landed while we asked Saleor: decide again.
            raise ApiError(
                409, "REGISTRATION_CONFLICT", "The shop's installation changed while registering; try installing again."
            )
        if tenant is None:
            tenant = Tenant(saleor_api_url=saleor_api_url)
            session.add(tenant)
        tenant.domain = domain
        tenant.app_id = app_id
        tenant.token_encrypted = encrypted
        tenant.jwks = jwks
        tenant.jwks_fetched_at = None  # last *refetch*; a fresh install may refetch at once
        tenant.saleor_version = saleor_version
        tenant.installed_at = utcnow()
        tenant.uninstalled_at = None
        if named:
            tenant.shop_name, tenant.shop_name_checked_at = shop_name, utcnow()
    shop_directory().forget(saleor_api_url)
    log.info("installed tenant %s (app %s)", saleor_api_url, app_id)
    return tenant


def _credentials(tenant: Tenant | None) -> tuple | None:
    return None if tenant is None else (tenant.app_id, tenant.token_encrypted and bytes(tenant.token_encrypted))


def _refuse_takeover(installed: Tenant | None, app_id: str) -> None:
    if installed is None or not installed.is_installed or installed.app_id == app_id:
        return
    try:
        still_works = stored_token_works(installed)
    except SaleorUnavailable:
        raise ApiError(
            503,
            "SALEOR_UNREACHABLE",
            "Saleor did not answer while checking the installed app's token; try installing again.",
        ) from None
    if still_works:
        log.warning(
            "register refused for tenant %s: app %s is installed and Saleor still takes its token "
            "(the new token is app %.64r)",
            installed.id,
            installed.app_id,
            app_id,
        )
        raise ApiError(
            409,
            "APP_ALREADY_INSTALLED",
            "This Saleor instance already has the app installed, and that installation still "
            "works. Remove it in the Saleor Dashboard before installing again.",
        )


def stored_token_works(tenant: Tenant) -> bool:
    """Whether Saleor still takes the shop's stored token for the shop's stored app.

    False when Saleor answers that the token is unknown (no app, PermissionDenied, HTTP 401/403);
    raises `SaleorUnavailable` when Saleor cannot be reached or gives no such clear answer.
    """
    if tenant.token_encrypted is None:
        return False
    try:
        token = token_box().decrypt(tenant.token_encrypted)
    except RuntimeError:  # SECRET_KEY changed: the token is of no use to us any more
        return False
    cfg = current_app.config["SETTINGS"]
    client = SaleorClient(
        tenant.saleor_api_url,
        token,
        timeout=min(cfg.saleor_timeout, 5.0),
        retries=1,
        backoff=0.2,
        address_policy=cfg.saleor_address_policy(),
    )
    try:
        answered_as = client.app_id()
    except SaleorPermissionDenied:
        return False
    except SaleorGraphQLError as exc:
        if exc.code in ("401", "403"):
            return False
        raise SaleorUnavailable(f"Saleor gave no clear answer about the stored token: {exc}") from None
    return answered_as is not None and answered_as == tenant.app_id


def handle_app_deleted(tenant_id: int, payload: dict) -> bool:
    """APP_DELETED: forget the shop's credentials (referral data stays, see README "Uninstall"),
    but only for an `AppDeleted` body naming the installed app *and* once Saleor confirms that
    the stored token no longer works. A valid signature alone proves nothing: Saleor signs every
    app's deliveries with one key. Returns whether the shop is uninstalled; raises
    `SaleorUnavailable` when Saleor cannot confirm (answer 5xx so that Saleor delivers again).
    """
    app = payload.get("app")
    named = app.get("id") if isinstance(app, dict) else None
    tenant = get_tenant(tenant_id)
    if tenant is None:
        return False
    if payload.get("__typename") != "AppDeleted" or not isinstance(named, str) or named != tenant.app_id:
        log.warning(
            "app_deleted for tenant %s ignored: the body (%.40r) names app %.64r, the installed app is %s",
            tenant_id,
            payload.get("__typename"),
            named,
            tenant.app_id,
        )
        return False
    if tenant.token_encrypted is None:
        return True  # Saleor delivering again what we already did
    if stored_token_works(tenant):
        log.warning(
            "app_deleted for tenant %s (app %s) ignored: Saleor still takes the stored token", tenant_id, tenant.app_id
        )
        return False
    with session_scope() as session:
        row = session.get(Tenant, tenant_id, with_for_update=True)
        if row is None or _credentials(row) != _credentials(tenant):
            return False  # re-registered meanwhile: that installation is not the deleted one
        row.token_encrypted = None
        row.uninstalled_at = utcnow()
    log.info("tenant %s uninstalled: app %s was deleted in Saleor", tenant_id, named)
    return True


def note_shop_name(tenant_id: int, raw) -> str | None:
    """Keep what Saleor says the shop is called now (cleaned); writes only when it changed."""
    name = clean_shop_name(raw)
    differs = (
        Tenant.shop_name.is_not(None) if name is None else or_(Tenant.shop_name.is_(None), Tenant.shop_name != name)
    )
    with session_scope() as session:
        changed = session.execute(update(Tenant).where(Tenant.id == tenant_id, differs).values(shop_name=name)).rowcount
    if changed:
        log.info("tenant %s: the shop's name changed in Saleor", tenant_id)
    return name


def claim_shop_name_refreshes(session, limit: int = 100) -> list[int]:
    """Installed shops whose name was not asked from Saleor for a day, marked as asked now: each shop
    gets one call a day, and a Saleor that does not answer is asked again the next day."""
    now = utcnow()
    due = or_(Tenant.shop_name_checked_at.is_(None), Tenant.shop_name_checked_at <= now - SHOP_NAME_REFRESH_INTERVAL)
    ids = session.scalars(select(Tenant.id).where(Tenant.is_installed, due).order_by(Tenant.id).limit(limit)).all()
    if not ids:
        return []
    # Only the rows this claim changed: another sweeper's claim of the same shop (two beats) sends nothing twice.
    claimed = session.scalars(
        update(Tenant)
        .where(Tenant.id.in_(ids), due)
        .values(shop_name_checked_at=now)
        .returning(Tenant.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(claimed)


def refresh_shop_name(tenant_id: int) -> str:
    """Ask Saleor for the shop's name and keep it; when Saleor cannot say, the old name stays."""
    tenant = get_tenant(tenant_id)
    if tenant is None or not tenant.is_installed:
        return "uninstalled"
    try:
        client = saleor_client(tenant)
    except (SaleorError, RuntimeError) as exc:  # RuntimeError: the token was stored under another SECRET_KEY
        log.warning("shop name of tenant %s not refreshed: %s", tenant_id, exc)
        return "failed"
    answered, name = _read_shop_name(client)
    if not answered:
        return "failed"
    note_shop_name(tenant_id, name)
    return "refreshed"


def find_tenant(saleor_api_url: str | None) -> Tenant | None:
    if not saleor_api_url:
        return None
    with session_scope() as session:
        return session.scalar(select(Tenant).where(Tenant.saleor_api_url == saleor_api_url))


def get_tenant(tenant_id: int) -> Tenant | None:
    with session_scope() as session:
        return session.get(Tenant, tenant_id)


def refresh_jwks(tenant: Tenant, *, force: bool = False) -> dict | None:
    """Refetch the tenant's JWKS, at most once per JWKS_REFETCH_INTERVAL per tenant."""
    now = utcnow()
    if not force and tenant.jwks_fetched_at and now - tenant.jwks_fetched_at < JWKS_REFETCH_INTERVAL:
        return None
    cfg = current_app.config["SETTINGS"]
    with session_scope() as session:
        row = session.get(Tenant, tenant.id, with_for_update=True)
        if not force and row.jwks_fetched_at and now - row.jwks_fetched_at < JWKS_REFETCH_INTERVAL:
            return None
        row.jwks_fetched_at = now  # counts as an attempt even when it fails
        try:
            row.jwks = fetch_jwks(
                row.saleor_api_url, timeout=min(cfg.saleor_timeout, 5.0), address_policy=cfg.saleor_address_policy()
            )
        except (requests.RequestException, ValueError) as exc:
            log.warning("JWKS refetch failed for %s: %s", row.saleor_api_url, exc)
            return None
        tenant.jwks, tenant.jwks_fetched_at = row.jwks, now
        return json.loads(row.jwks)


def saleor_client(tenant: Tenant) -> SaleorClient:
    if tenant.token_encrypted is None:
        raise SaleorError("tenant is uninstalled", code="UNINSTALLED")
    cfg = current_app.config["SETTINGS"]
    return SaleorClient(
        tenant.saleor_api_url,
        token_box().decrypt(tenant.token_encrypted),
        timeout=cfg.saleor_timeout,
        address_policy=cfg.saleor_address_policy(),
    )
