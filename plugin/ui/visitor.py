"""The visitor's signed cookie on our pages: a CSRF secret, where each share link was clicked from,
and which friend claims this browser made (only those show their code on the page).

The cookie is signed (itsdangerous, SECRET_KEY), HttpOnly and SameSite=Lax. The
form token is an HMAC of the cookie's secret and the form's purpose, so a page
of another site can neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "rf_visit"
MAX_AGE = 30 * 24 * 3600
MAX_REMEMBERED_CLICKS = MAX_REMEMBERED_CLAIMS = 5
HOST_RE = re.compile(r"[a-z0-9.-]{1,255}")  # IDNs arrive punycoded; anything else is not a host we keep


@dataclass
class Visit:
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    clicks: dict[str, list] = field(default_factory=dict)  # code -> [referrer host or "", unix time]
    claims: dict[str, int] = field(default_factory=dict)  # share code -> id of the claim made here
    changed: bool = True

    def claim_of(self, code: str) -> int | None:
        found = self.claims.get(code)
        return found if isinstance(found, int) else None

    def remember_claim(self, code: str, claim_id: int) -> None:
        self.claims[code] = claim_id
        while len(self.claims) > MAX_REMEMBERED_CLAIMS:
            self.claims.pop(next(iter(self.claims)))
        self.changed = True

    def click_of(self, code: str) -> tuple[str | None, datetime | None]:
        found = self.clicks.get(code)
        if not found:
            return None, None
        host, at = found
        return (host or None), datetime.fromtimestamp(at, UTC)

    def remember_click(self, code: str, referrer_host: str | None, at: datetime) -> bool:
        """Keep the first click of each code; False if this browser had clicked it already."""
        if code in self.clicks:
            return False
        self.clicks[code] = [referrer_host or "", int(at.timestamp())]
        while len(self.clicks) > MAX_REMEMBERED_CLICKS:
            self.clicks.pop(next(iter(self.clicks)))
        self.changed = True
        return True


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SETTINGS"].secret_key, salt="visitor")


def read_visit() -> Visit:
    raw = request.cookies.get(COOKIE)
    if raw and len(raw) < 2048:
        try:
            data = _serializer().loads(raw, max_age=MAX_AGE)
            clicks = data.get("c") if isinstance(data.get("c"), dict) else {}
            claims = data.get("k") if isinstance(data.get("k"), dict) else {}
            if isinstance(data.get("s"), str):
                return Visit(secret=data["s"], clicks=clicks, claims=claims, changed=False)
        except (BadSignature, AttributeError, ValueError, TypeError):
            pass
    return Visit()


def save_visit(response, visit: Visit):
    if visit.changed:
        response.set_cookie(
            COOKIE,
            _serializer().dumps({"s": visit.secret, "c": visit.clicks, "k": visit.claims}),
            max_age=MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
            path="/",
        )
    return response


def form_token(visit: Visit, purpose: str) -> str:
    key = current_app.config["SETTINGS"].secret_key.encode()
    return hmac.new(key, f"{visit.secret}|{purpose}".encode(), hashlib.sha256).hexdigest()


def form_token_valid(visit: Visit, purpose: str, token: str | None) -> bool:
    if not isinstance(token, str) or not token.isascii():  # compare_digest refuses non-ASCII str
        return False
    return hmac.compare_digest(form_token(visit, purpose).encode(), token.encode())


def referrer_host() -> str | None:
    """Host of the page that linked here, unless it is one of ours (a reload, our own form)."""
    referrer = request.headers.get("Referer", "")[:2048]
    try:
        host = (urlsplit(referrer).hostname or "").lower()[:255] if referrer else ""
    except ValueError:  # e.g. "http://[" — not a URL, so no host to note
        return None
    own = (urlsplit(current_app.config["SETTINGS"].app_url).hostname or "").lower()
    if not host or host == own or not HOST_RE.fullmatch(host):
        return None
    return host
