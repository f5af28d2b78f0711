"""Shared setup of the admin tests: a shop (tenant) whose app lives in the Saleor emulator."""

from __future__ import annotations

import json

from plugin.db import session_scope
from plugin.tenants.crypto import TokenBox
from plugin.tenants.models import Tenant


def add_tenant(flask_app, saleor, app, *, api_url: str | None = None, jwks: dict | None = None) -> int:
    """A tenant row as registration would leave it (without going through /api/register)."""
    box = TokenBox(flask_app.config["SETTINGS"].secret_key)
    with session_scope() as session:
        tenant = Tenant(
            saleor_api_url=api_url or saleor.api_url,
            domain=saleor.domain,
            app_id=app.id,
            token_encrypted=box.encrypt(app.token),
            jwks=json.dumps(jwks or saleor.jwks),
            shop_name="Test shop",
        )
        session.add(tenant)
        session.flush()
        return tenant.id


def auth_headers(token: str, api_url: str) -> dict[str, str]:
    return {"authorization-bearer": token, "saleor-api-url": api_url}


class Admin:
    """A signed-in Dashboard user calling the admin API through Flask's test client."""

    def __init__(self, client, saleor, app, **token_kwargs):
        self.client, self.saleor, self.app = client, saleor, app
        self.token_kwargs = token_kwargs

    def headers(self) -> dict[str, str]:
        return auth_headers(self.saleor.mint_dashboard_token(self.app, **self.token_kwargs), self.saleor.api_url)

    def get(self, path, **kwargs):
        return self.client.get(path, headers=self.headers(), **kwargs)

    def put(self, path, payload, **kwargs):
        return self.client.put(path, headers=self.headers(), json=payload, **kwargs)

    def post(self, path, payload=None, **kwargs):
        if payload is None:
            return self.client.post(path, headers=self.headers(), **kwargs)
        return self.client.post(path, headers=self.headers(), json=payload, **kwargs)
