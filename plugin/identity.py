"""Who is who: e-mail addresses, referral and coupon codes, and the pseudonyms of erased people."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import idna
from email_validator import EmailNotValidError, validate_email

# Providers that ignore dots in the local part.
_DOTLESS = {"gmail.com", "googlemail.com"}
_DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}


def valid_email(value: object) -> str | None:
    """One deliverable-looking address in the form we send to (the domain lower-case and, for an
    IDN, in its xn-- form), or None: no lists, no display names, no quoted or non-ASCII local parts."""
    if not isinstance(value, str) or not value.strip() or len(value) > 320:
        return None
    try:
        checked = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return checked.ascii_email


def is_valid_email(value: object) -> bool:
    return valid_email(value) is not None


def normalize_email(value: str | None) -> str:
    """The identity of a mailbox, for matching people only (e-mails go to the address as given):
    case-folded, the domain in its xn-- form, a `+tag` dropped at every provider (most deliver
    `name+tag@` to `name@`, and treating two addresses as one person only makes fraud rules stricter),
    and dots dropped where the provider ignores them."""
    if not value:
        return ""
    value = value.strip().lower()
    if "@" not in value:
        return value
    local, _, domain = value.rpartition("@")
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            pass
    domain = _DOMAIN_ALIASES.get(domain, domain)
    if "+" in local[1:]:
        local = local[0] + local[1:].split("+", 1)[0]
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


# The token that replaces an erased person's e-mail: `erased-` + the first 12 hex digits of
# HMAC-SHA256(normalised e-mail, SECRET_KEY). Stable, so the same person always maps to the same
# token (distinct counts stay right); keyed, so nobody can confirm a guessed address by hashing it.
ERASED_PREFIX = "erased-"


def pseudonym(email: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), normalize_email(email).encode(), hashlib.sha256).hexdigest()
    return f"{ERASED_PREFIX}{digest[:12]}"


def is_pseudonym(value: str | None) -> bool:
    """True for an e-mail column that holds an erased person's token instead of an address."""
    return bool(value) and value.startswith(ERASED_PREFIX) and "@" not in value
