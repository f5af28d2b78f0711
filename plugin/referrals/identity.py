"""Who is who: e-mail normalisation and referral codes."""
from __future__ import annotations

import hashlib
import re
import secrets

# Providers that ignore dots and/or +tags in the local part.
_DOTLESS = {"gmail.com", "googlemail.com"}
_PLUS_TAGS = {"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "icloud.com",
              "me.com", "fastmail.com", "protonmail.com", "proton.me", "yahoo.com"}
_DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}

EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


def is_valid_email(value: str) -> bool:
    return bool(value) and len(value) <= 320 and bool(EMAIL_RE.match(value.strip()))


def normalize_email(value: str | None) -> str:
    """The identity of a mailbox: case-folded; dots and +tags removed where the provider ignores them."""
    if not value:
        return ""
    value = value.strip().lower()
    if "@" not in value:
        return value
    local, _, domain = value.rpartition("@")
    domain = _DOMAIN_ALIASES.get(domain, domain)
    if domain in _PLUS_TAGS:
        local = local.split("+", 1)[0]
    if domain in _DOTLESS:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def mask_email(value: str) -> str:
    """j***@e***.com — enough for an advocate to recognise a friend, not to harvest."""
    if "@" not in value:
        return "***"
    local, _, domain = value.partition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{(host or domain)[:1]}***.{tld or ''}".rstrip(".")


# Crockford-style alphabet without look-alikes (0/O, 1/I/L, U).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_RE = re.compile(r"^[A-Za-z0-9-]{4,32}$")


def new_code(length: int = 8) -> str:
    """Short, unguessable (30^8 ≈ 6.6e11), easy to read aloud, case-insensitive."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def canonical_code(value: str | None) -> str | None:
    if not value or not CODE_RE.match(value.strip()):
        return None
    return value.strip().upper()


def fingerprint(*parts: str | None) -> str:
    joined = "|".join((p or "").strip().lower() for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()
