"""Saleor webhook signatures: detached JWS (RFC 7797, `b64: false`), RS256 only.

python-jose's `jws.verify` cannot check an unencoded payload, so the signing
input `ASCII(b64url(header)) + "." + raw body` is built here and checked with
python-jose's RSA key. Always pass the raw request bytes, never a re-serialised body.
"""

from __future__ import annotations

import json
from functools import lru_cache

from jose import jwk
from jose.exceptions import JOSEError
from jose.utils import base64url_decode


class SignatureError(Exception):
    pass


class UnknownKey(SignatureError):
    """The `kid` is not in the JWKS we hold (Saleor may have rotated its key)."""


def _b64decode(segment: str) -> bytes:
    try:
        return base64url_decode(segment.encode("ascii"))
    except Exception as exc:  # binascii.Error, UnicodeEncodeError
        raise SignatureError("malformed base64url") from exc


def parse_header(signature: str) -> tuple[str, dict, bytes]:
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SignatureError("not a detached JWS")
    header_b64, _, sig_b64 = parts
    try:
        header = json.loads(_b64decode(header_b64))
    except (ValueError, RecursionError) as exc:
        raise SignatureError("malformed JWS header") from exc
    if not isinstance(header, dict):
        raise SignatureError("malformed JWS header")
    if header.get("alg") != "RS256":
        raise SignatureError(f"algorithm {header.get('alg')!r} refused; only RS256")
    if header.get("b64") is not False or "b64" not in (header.get("crit") or []):
        raise SignatureError("expected an unencoded payload (b64: false, crit: [b64])")
    return header_b64, header, _b64decode(sig_b64)


@lru_cache(maxsize=64)
def _public_key(kid: str | None, n: str, e: str):
    # Building an RSA key from n/e costs more than the verification itself; Saleor keys rarely change.
    return jwk.construct({"kty": "RSA", "kid": kid, "n": n, "e": e, "alg": "RS256"}, "RS256")


def verify_webhook_signature(signature: str, raw_body: bytes, jwks: dict) -> dict:
    """Return the JWS header if `signature` signs `raw_body` with a key of `jwks`."""
    header_b64, header, sig = parse_header(signature)
    kid = header.get("kid")
    keys = [
        k
        for k in (jwks or {}).get("keys", [])
        if isinstance(k, dict)
        and k.get("kty") == "RSA"
        and (kid is None or k.get("kid") == kid)
        and isinstance(k.get("n"), str)
        and isinstance(k.get("e"), str)
        and isinstance(k.get("kid"), (str, type(None)))
    ]
    if not keys:
        raise UnknownKey(f"no key {kid!r} in JWKS")
    signing_input = header_b64.encode("ascii") + b"." + raw_body
    for key in keys:
        try:
            if _public_key(key.get("kid"), key.get("n"), key.get("e")).verify(signing_input, sig):
                return header
        except JOSEError:
            continue
    raise SignatureError("signature does not match the body")
