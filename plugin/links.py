"""URLs we hand to people: share links, portal magic links, storefront links."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

PORTAL_LINK_MAX_AGE = 30 * 24 * 3600  # a magic link works for 30 days; a new one can be requested


def app_url() -> str:
    return current_app.config["SETTINGS"].app_url


def share_link(code: str, channel: str | None = None) -> str:
    url = f"{app_url()}/r/{quote(code)}"
    if channel:
        url += "?" + urlencode({"utm_source": channel, "utm_medium": "referral", "utm_campaign": "referral"})
    return url


def _portal_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SETTINGS"].secret_key, salt="advocate-portal")


def portal_token(tenant_id: int, advocate_id: int) -> str:
    return _portal_serializer().dumps({"t": tenant_id, "a": advocate_id})


def portal_url(tenant_id: int, advocate_id: int) -> str:
    return f"{app_url()}/portal/{portal_token(tenant_id, advocate_id)}"


def read_portal_token(token: str, max_age: int = PORTAL_LINK_MAX_AGE) -> tuple[int, int] | None:
    """(tenant_id, advocate_id), or None for a forged or expired link."""
    try:
        data = _portal_serializer().loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), int) or not isinstance(data.get("a"), int):
        return None
    return data["t"], data["a"]


def safe_http_url(url: str | None) -> str | None:
    """Only absolute http(s) URLs leave the app as links (no javascript:, no //evil)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    return None


def storefront_link(program, *, code: str | None = None, referral_code: str | None = None) -> str | None:
    template = program.storefront_url_template
    if template and code:
        url = template.replace("{code}", quote(code)).replace("{referral_code}", quote(referral_code or ""))
        return safe_http_url(url)
    return safe_http_url(program.storefront_url)
