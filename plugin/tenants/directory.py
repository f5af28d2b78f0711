"""Which shop sent a webhook: its tenant id and JWKS, cached in this process for a short while.

Every delivery needs both and they almost never change, so a database round trip and a JSON
parse per delivery buy nothing. Staleness is harmless: a rotated key or a reinstall shows up as
a failed signature, and the webhook view then reads the row again before refusing anything.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from plugin.db import session_scope
from plugin.tenants.models import Tenant


@dataclass(frozen=True)
class KnownShop:
    id: int
    saleor_api_url: str
    jwks: dict


class ShopDirectory:
    def __init__(self, ttl: float = 30.0, max_entries: int = 1024):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, KnownShop]] = {}
        self._lock = threading.Lock()

    def get(self, saleor_api_url: str) -> KnownShop | None:
        """The cached shop, else the stored one (None if it never installed the app)."""
        entry = self._entries.get(saleor_api_url)
        if entry is not None and time.monotonic() - entry[0] < self.ttl:
            return entry[1]
        with session_scope() as session:
            return self.remember(session.scalar(select(Tenant).where(Tenant.saleor_api_url == saleor_api_url)))

    def remember(self, tenant: Tenant | None) -> KnownShop | None:
        if tenant is None or tenant.jwks is None:
            return None
        try:
            jwks = json.loads(tenant.jwks)
        except ValueError:
            return None
        shop = KnownShop(tenant.id, tenant.saleor_api_url, jwks if isinstance(jwks, dict) else {})
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # unknown URLs are never cached, so this only trims real shops
            self._entries[tenant.saleor_api_url] = (time.monotonic(), shop)
        return shop

    def forget(self, saleor_api_url: str) -> None:
        with self._lock:
            self._entries.pop(saleor_api_url, None)


def shop_directory() -> ShopDirectory:
    return current_app.extensions.setdefault("shop_directory", ShopDirectory())
