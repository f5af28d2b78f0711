"""The token that replaces an erased person's e-mail, and how to recognise one.

`erased-` + the first 12 hex digits of HMAC-SHA256(normalised e-mail, SECRET_KEY): stable, so
the same person always maps to the same token (distinct counts stay right), and keyed, so
nobody can confirm a guessed address by hashing it themselves.
"""
from __future__ import annotations

import hashlib
import hmac

from plugin.referrals.identity import normalize_email

ERASED_PREFIX = "erased-"


def pseudonym(email: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), normalize_email(email).encode(), hashlib.sha256).hexdigest()
    return f"{ERASED_PREFIX}{digest[:12]}"


def is_pseudonym(value: str | None) -> bool:
    """True for an e-mail column that holds an erased person's token instead of an address."""
    return bool(value) and value.startswith(ERASED_PREFIX) and "@" not in value
