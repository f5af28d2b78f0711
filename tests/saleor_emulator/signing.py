"""Keys, JWKS, webhook signatures and Dashboard JWTs, the way Saleor core 3.23 makes them.

* One RSA-2048 key at a time (Saleor serves exactly one key: ``RSA_PRIVATE_KEY``).
* ``kid`` is the RFC 7638 JWK thumbprint (SHA-256, base64url without padding).
* ``GET /.well-known/jwks.json`` is ``{"keys": [{"kty", "key_ops", "n", "e", "use", "kid", "alg"}]}``
  with Python ``json.dumps`` default separators (same bytes layout as the captured ``jwks.json``).
* Webhook ``Saleor-Signature`` is a detached RFC 7797 JWS made like PyJWT's
  ``api_jws.encode(..., headers={"kid", "crit": ["b64"]}, is_payload_detached=True)``: the protected
  header is compact JSON with sorted keys ``{"alg","b64","crit","kid","typ"}``, the signing input is
  ``b64url(header) + b"." + raw_body`` and the value is ``<b64url(header)>..<b64url(sig)>``.
* Dashboard (``app.accessToken``) JWTs are ordinary compact RS256 JWS with header
  ``{"alg","kid","typ"}`` (sorted, compact) and claims in Saleor's order.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str | bytes) -> bytes:
    if isinstance(data, bytes):
        data = data.decode("ascii")
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _int_to_b64(value: int) -> str:
    length = (value.bit_length() + 7) // 8
    return b64url_encode(value.to_bytes(length, "big"))


def generate_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def jwk_thumbprint(n: str, e: str) -> str:
    """RFC 7638 thumbprint of an RSA public JWK (members e, kty, n in lexicographic order)."""
    canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


@dataclass
class SigningKey:
    """An RSA private key plus its public JWK as Saleor publishes it."""

    private_key: rsa.RSAPrivateKey = field(default_factory=generate_rsa_key)

    def __post_init__(self) -> None:
        numbers = self.private_key.public_key().public_numbers()
        self.n = _int_to_b64(numbers.n)
        self.e = _int_to_b64(numbers.e)
        self.kid = jwk_thumbprint(self.n, self.e)

    @property
    def public_jwk(self) -> dict[str, Any]:
        # Same member order as the JWKS captured from Saleor 3.23.28.
        return {
            "kty": "RSA",
            "key_ops": ["verify"],
            "n": self.n,
            "e": self.e,
            "use": "sig",
            "kid": self.kid,
            "alg": "RS256",
        }

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def jwks_document(keys: Iterable[SigningKey]) -> dict[str, Any]:
    return {"keys": [k.public_jwk for k in keys]}


def jwks_bytes(keys: Iterable[SigningKey]) -> bytes:
    """The JWKS response body (Django ``JsonResponse`` uses default ``json.dumps`` separators)."""
    return json.dumps(jwks_document(keys)).encode("utf-8")


def _compact_header(header: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def sign_detached_jws(body: bytes, key: SigningKey) -> str:
    """Saleor's webhook signature: detached, unencoded-payload (b64=false) RS256 JWS."""
    header = {"alg": "RS256", "b64": False, "crit": ["b64"], "kid": key.kid, "typ": "JWT"}
    header_b64 = _compact_header(header)
    signature = key.sign(header_b64.encode("ascii") + b"." + body)
    return f"{header_b64}..{b64url_encode(signature)}"


def _public_keys_from_jwks(jwks: dict[str, Any]) -> dict[str, rsa.RSAPublicKey]:
    keys = {}
    for k in jwks.get("keys", []):
        if k.get("kty") != "RSA":
            continue
        pub = rsa.RSAPublicNumbers(
            int.from_bytes(b64url_decode(k["e"]), "big"), int.from_bytes(b64url_decode(k["n"]), "big")
        ).public_key()
        keys[k.get("kid")] = pub
    return keys


def verify_detached_jws(signature: str, body: bytes, jwks: dict[str, Any]) -> dict[str, Any]:
    """Verify like ``tests/fixtures/saleor/verify_signatures.py``; returns the header or raises.

    Raises ``InvalidSignature`` (bad signature), ``KeyError`` (unknown kid) or ``ValueError``
    (malformed value / header).
    """
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise ValueError("expected a detached JWS <header>..<signature>")
    header_b64, _, sig_b64 = parts
    header = json.loads(b64url_decode(header_b64))
    if header.get("alg") != "RS256" or header.get("b64") is not False or "b64" not in header.get("crit", []):
        raise ValueError(f"unexpected JWS header {header!r}")
    key = _public_keys_from_jwks(jwks)[header["kid"]]
    key.verify(b64url_decode(sig_b64), header_b64.encode("ascii") + b"." + body, padding.PKCS1v15(), hashes.SHA256())
    return header


def is_valid_detached_jws(signature: str, body: bytes, jwks: dict[str, Any]) -> bool:
    try:
        verify_detached_jws(signature, body, jwks)
    except (InvalidSignature, KeyError, ValueError):
        return False
    return True


def encode_unsigned_jwt(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """An ``alg: none`` token (for security tests; never accepted by a correct verifier)."""
    header = header or {"alg": "none", "typ": "JWT"}
    payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    return f"{_compact_header(header)}.{b64url_encode(payload)}."


def decode_jwt_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header_b64, payload_b64, _ = token.split(".")
    return json.loads(b64url_decode(header_b64)), json.loads(b64url_decode(payload_b64))
