"""URLs we hand to people: share links, portal magic links, storefront links."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import quote, urlencode, urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
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


# -- unsubscribe links ------------------------------------------------------------------------------
# The token names the shop and the address. It is encrypted, not only signed, so the address never
# shows in a URL (access logs, the mail client's link preview); it does not expire: RFC 8058 asks
# that a List-Unsubscribe URL keep working. Tokens made under an OLD_SECRET_KEYS key still work.
MAX_UNSUBSCRIBE_TOKEN = 1024


def _unsubscribe_box() -> MultiFernet:
    cfg = current_app.config["SETTINGS"]
    keys = [cfg.secret_key, *cfg.old_secret_keys]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(hashlib.sha256(b"saleor-referrals/unsubscribe/v1\x00" + k.encode()).digest())
            )
            for k in keys
        ]
    )


def unsubscribe_token(tenant_id: int, email: str) -> str:
    payload = json.dumps({"t": tenant_id, "e": email}, separators=(",", ":")).encode()
    return _unsubscribe_box().encrypt(payload).decode().rstrip("=")


def unsubscribe_url(tenant_id: int, email: str, locale: str | None = None) -> str:
    url = f"{app_url()}/unsubscribe/{unsubscribe_token(tenant_id, email)}"
    return f"{url}?{urlencode({'lang': locale})}" if locale else url


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """(tenant_id, e-mail address), or None for anything we did not make."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_UNSUBSCRIBE_TOKEN or not token.isascii():
        return None
    try:
        data = json.loads(_unsubscribe_box().decrypt((token + "=" * (-len(token) % 4)).encode()))
    except (InvalidToken, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), int) or not isinstance(data.get("e"), str):
        return None
    return data["t"], data["e"]
