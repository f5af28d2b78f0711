"""Who is calling the admin API: a Saleor Dashboard user, proven by the app JWT.

The Dashboard hands our iframe a short-lived RS256 token (PROTOCOL §6). The page
sends it back as `authorization-bearer`, with `saleor-api-url` naming the shop.
That header only *selects* the tenant; everything else is proven by the token:
signature against the tenant's stored JWKS, issuer = the tenant's API URL,
`app` = our app id in that shop, `type: thirdparty`, not expired, and the
needed permission among the user's permissions. No cookies, no sessions.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass, field

from flask import g, request
from jose import jwt
from jose.exceptions import JOSEError, JWTError

from plugin.http import ApiError
from plugin.tenants import service as tenants
from plugin.tenants.models import Tenant

log = logging.getLogger(__name__)

ALGORITHM = "RS256"


class DashboardAuthError(ApiError):
    """Why a token was refused: 401 (not authenticated, with a `WWW-Authenticate` challenge) or 403."""

    def __init__(self, code: str, message: str, status: int = 401):
        super().__init__(
            status,
            code,
            message,
            headers={"WWW-Authenticate": 'Bearer realm="saleor-dashboard"'} if status == 401 else None,
        )


@dataclass(frozen=True)
class DashboardUser:
    tenant_id: int
    saleor_api_url: str
    email: str
    user_id: str | None
    permissions: frozenset[str]
    claims: dict = field(repr=False, compare=False)

    @property
    def actor(self) -> str:
        """How the ledger and the audit trail name this person."""
        return f"merchant:{self.email or self.user_id or 'unknown'}"


def _keys(jwks_text: str | None) -> list[dict]:
    try:
        data = json.loads(jwks_text or "")
    except ValueError:
        return []
    keys = data.get("keys") if isinstance(data, dict) else None
    return [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []


def _key_for(kid: str | None, keys: list[dict]) -> dict | None:
    candidates = [k for k in keys if k.get("kty") == "RSA" and k.get("alg", ALGORITHM) == ALGORITHM]
    if kid is None:
        return candidates[0] if len(candidates) == 1 else None
    return next((k for k in candidates if k.get("kid") == kid), None)


def verify_token(
    token: str, tenant: Tenant, *, permission: str | None = None, now: float | None = None, refetch_jwks=None
) -> DashboardUser:
    """Verify a Dashboard JWT for `tenant`; returns the user or raises DashboardAuthError.

    `refetch_jwks(tenant) -> dict | None` is called once when the token's key id is
    not in the stored JWKS (Saleor rotated its key); by default the rate-limited
    `plugin.tenants.service.refresh_jwks`.
    """
    if not token or token.count(".") != 2:
        raise DashboardAuthError("INVALID_TOKEN", "The Dashboard token is not a JWT.")
    if not tenant.is_installed or not tenant.app_id:
        raise DashboardAuthError("NOT_INSTALLED", "The app is not installed in this Saleor instance.")
    try:
        header = jwt.get_unverified_header(token)
    except (JWTError, RecursionError):  # a header nested thousands deep is just unreadable
        raise DashboardAuthError("INVALID_TOKEN", "The Dashboard token's header cannot be read.") from None
    if header.get("alg") != ALGORITHM:
        raise DashboardAuthError("INVALID_TOKEN", "The Dashboard token must be signed with RS256.")
    kid = header.get("kid")

    key = _key_for(kid, _keys(tenant.jwks))
    if key is None:
        refetch = refetch_jwks or tenants.refresh_jwks
        fresh = refetch(tenant)
        if fresh:
            key = _key_for(kid, _keys(json.dumps(fresh)))
    if key is None:
        raise DashboardAuthError("UNKNOWN_KEY", "The Dashboard token was signed with a key this shop does not publish.")

    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            # exp/nbf are checked below against `now`, so tests can freeze the clock without patching.
            options={
                "verify_aud": False,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
                "verify_at_hash": False,
            },
        )
    except (JOSEError, ValueError, TypeError):
        raise DashboardAuthError("INVALID_SIGNATURE", "The Dashboard token's signature does not verify.") from None

    current = time.time() if now is None else now
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise DashboardAuthError("INVALID_TOKEN", "The Dashboard token has no expiry.")
    if exp <= current:
        raise DashboardAuthError("TOKEN_EXPIRED", "The Dashboard token has expired; reload the page.")
    nbf = claims.get("nbf")
    if isinstance(nbf, (int, float)) and nbf > current + 30:
        raise DashboardAuthError("INVALID_TOKEN", "The Dashboard token is not valid yet.")
    if claims.get("iss") != tenant.saleor_api_url:
        raise DashboardAuthError("WRONG_ISSUER", "The Dashboard token was issued by another Saleor instance.")
    if claims.get("app") != tenant.app_id:
        raise DashboardAuthError("WRONG_APP", "The Dashboard token belongs to another app.")
    if claims.get("type") != "thirdparty":
        raise DashboardAuthError("INVALID_TOKEN", "Not an app token of the Saleor Dashboard.")
    user_permissions = claims.get("user_permissions")
    if not isinstance(user_permissions, list):
        raise DashboardAuthError("INVALID_TOKEN", "The Dashboard token lists no user permissions.")
    if permission and permission not in user_permissions:
        raise DashboardAuthError("PERMISSION_DENIED", f"Your Saleor account needs the {permission} permission.", 403)
    return DashboardUser(
        tenant_id=tenant.id,
        saleor_api_url=tenant.saleor_api_url,
        email=str(claims.get("email") or ""),
        user_id=claims.get("user_id"),
        permissions=frozenset(p for p in user_permissions if isinstance(p, str)),
        claims=claims,
    )


def authenticate(token: str | None, saleor_api_url: str | None, *, permission: str | None) -> DashboardUser:
    """Tenant lookup + verification; raises DashboardAuthError."""
    if not saleor_api_url:
        raise DashboardAuthError("MISSING_SALEOR_API_URL", "Missing saleor-api-url header.")
    if not token:
        raise DashboardAuthError(
            "MISSING_TOKEN", "Missing authorization-bearer header; open this page from the Saleor Dashboard."
        )
    tenant = tenants.find_tenant(saleor_api_url.strip())
    if tenant is None:
        raise DashboardAuthError("NOT_INSTALLED", "The app is not installed in this Saleor instance.")
    return verify_token(token.strip(), tenant, permission=permission)


def _bearer_from_headers() -> str | None:
    token = request.headers.get("authorization-bearer")
    if token:
        return token
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    return value if scheme.lower() == "bearer" and value else None


def dashboard_auth(permission: str | None = "MANAGE_DISCOUNTS"):
    """Decorator for admin API views: 401/403 JSON unless a valid Dashboard token is sent.

    The view finds the caller in `g.dashboard_user` (a DashboardUser).
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                g.dashboard_user = authenticate(
                    _bearer_from_headers(), request.headers.get("saleor-api-url"), permission=permission
                )
            except DashboardAuthError as exc:
                log.info("admin API refused %s %s: %s", request.method, request.path, exc.code)
                raise
            return view(*args, **kwargs)

        return wrapper

    return decorate


def current_user() -> DashboardUser:
    return g.dashboard_user
