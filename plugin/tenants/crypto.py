"""Encryption at rest for Saleor app tokens (Fernet: AES-128-CBC + HMAC-SHA256).

The key is derived from SECRET_KEY; rotating SECRET_KEY therefore needs the old
key in OLD_SECRET_KEYS (comma-separated) until every tenant has re-registered.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def _fernet(secret: str) -> Fernet:
    digest = hashlib.sha256(b"saleor-referrals/app-token/v1\x00" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class TokenBox:
    def __init__(self, secret_key: str, old_keys: list[str] = ()):
        self._box = MultiFernet([_fernet(secret_key), *(_fernet(k) for k in old_keys)])

    def encrypt(self, token: str) -> bytes:
        return self._box.encrypt(token.encode())

    def decrypt(self, blob: bytes) -> str:
        try:
            return self._box.decrypt(bytes(blob)).decode()
        except InvalidToken as exc:  # wrong SECRET_KEY
            raise RuntimeError("cannot decrypt the stored Saleor token: was SECRET_KEY changed?") from exc
