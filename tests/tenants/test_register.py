"""Install (`POST /api/register`) against the emulated Saleor, as PROTOCOL §2.2 describes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from plugin.db import engine, session_scope
from plugin.tenants.crypto import TokenBox
from plugin.tenants.models import Tenant
from tests.fixtures import load


def tenants() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(Tenant.id)))


def register(client, saleor, token, *, path="/api/register", api_url=None):
    headers = {k: v for k, v in load("register__1.json").headers.items() if k.lower() not in {"host", "content-length"}}
    headers.update(
        {"Saleor-Api-Url": api_url or saleor.api_url, "Saleor-Domain": saleor.domain, "X-Saleor-Domain": saleor.domain}
    )
    return client.post(path, data=json.dumps({"auth_token": token}), headers=headers)


def test_full_install_driven_by_saleor_stores_an_encrypted_token(saleor, live_server):
    result = saleor.install(f"{live_server.url}/api/manifest")
    assert result.response.status_code == 200
    assert result.response.json() == {"success": True}
    with engine().connect() as conn:
        row = conn.execute(text("SELECT saleor_api_url, app_id, token_encrypted, jwks FROM tenants")).one()
    assert row.saleor_api_url == saleor.api_url
    assert row.app_id == result.app.id
    assert result.app.token.encode() not in bytes(row.token_encrypted), "token must not be stored in plaintext"
    assert TokenBox(live_server.app.config["SETTINGS"].secret_key).decrypt(row.token_encrypted) == result.app.token
    assert json.loads(row.jwks)["keys"][0]["kid"] == saleor.jwks["keys"][0]["kid"]


@pytest.mark.parametrize("path", ["/api/register", "/api/register/"])
def test_both_url_forms_answer_directly_never_a_redirect(client, saleor, path):
    app = saleor.create_app("referrals")
    response = register(client, saleor, app.token, path=path)
    assert response.status_code == 200 and response.json == {"success": True}
    assert "Location" not in response.headers


def test_reinstall_replaces_the_old_credentials(client, app, saleor):
    """Saleor's reinstall: the old app is deleted (its token dies), then the new one registers."""
    first = saleor.create_app("referrals-1")
    second = saleor.create_app("referrals-2")
    assert register(client, saleor, first.token).status_code == 200
    saleor.delete_app(first, deliver=False)
    assert register(client, saleor, second.token).status_code == 200
    assert tenants() == 1
    with session_scope() as session:
        tenant = session.scalar(select(Tenant))
        assert tenant.app_id == second.id
        assert TokenBox(app.config["SETTINGS"].secret_key).decrypt(tenant.token_encrypted) == second.token


def test_disallowed_saleor_is_refused_with_403(make_config, saleor):
    from plugin.app import create_app

    application = create_app(make_config(allowed_saleor_api_urls=["https://*.saleor.cloud/graphql/"]), runner="eager")
    app = saleor.create_app("referrals")
    response = register(application.test_client(), saleor, app.token)
    assert response.status_code == 403
    assert response.json == {
        "success": False,
        "error": {"code": "SALEOR_URL_PROHIBITED", "message": response.json["error"]["message"]},
    }
    assert tenants() == 0


def test_allow_list_accepts_exact_urls_and_patterns(make_config):
    cfg = make_config(
        allowed_saleor_api_urls=[
            "https://a.example.com/graphql/",
            "https://*.saleor.cloud/graphql/",
            r"re:https://shop\d+\.example\.org/graphql/",
        ]
    )
    assert cfg.saleor_api_url_allowed("https://a.example.com/graphql/")
    assert cfg.saleor_api_url_allowed("https://x.saleor.cloud/graphql/")
    assert cfg.saleor_api_url_allowed("https://shop12.example.org/graphql/")
    assert not cfg.saleor_api_url_allowed("https://a.example.com/graphql")
    assert not cfg.saleor_api_url_allowed("https://evil.com/?https://x.saleor.cloud/graphql/")


def test_bad_token_is_refused_with_401(client, saleor):
    response = register(client, saleor, "not-a-real-token")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "UNKNOWN_APP_ID"
    assert tenants() == 0


def test_unreachable_jwks_is_refused_with_401(client, saleor):
    app = saleor.create_app("referrals")
    saleor.jwks_available = False
    response = register(client, saleor, app.token)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "JWKS_NOT_AVAILABLE"
    assert tenants() == 0


def test_saleor_slower_than_our_budget_gives_a_clean_error(make_config, saleor):
    from plugin.app import create_app

    application = create_app(make_config(saleor_timeout=0.5), runner="eager")
    app = saleor.create_app("referrals")
    saleor.faults.timeout_next(10, seconds=3)
    response = register(application.test_client(), saleor, app.token)
    assert response.status_code == 503
    assert response.json["success"] is False and response.json["error"]["code"] == "SALEOR_UNREACHABLE"
    assert tenants() == 0


@pytest.mark.parametrize(
    "headers, body, code",
    [
        ({}, b'{"auth_token": "x"}', "MISSING_SALEOR_API_URL"),
        (None, b"{not json", "INVALID_BODY"),
        (None, b"", "INVALID_BODY"),
        (None, b'{"token": "x"}', "MISSING_AUTH_TOKEN"),
        (None, b'{"auth_token": ""}', "MISSING_AUTH_TOKEN"),
        (None, b'{"auth_token": 42}', "MISSING_AUTH_TOKEN"),
        (None, b'["auth_token"]', "MISSING_AUTH_TOKEN"),
    ],
)
def test_bad_register_requests_get_a_json_4xx_and_store_nothing(client, saleor, headers, body, code):
    if headers is None:
        headers = {"Saleor-Api-Url": saleor.api_url, "Content-Type": "application/json"}
    response = client.post("/api/register", data=body, headers=headers)
    assert response.status_code == 400
    assert response.json["success"] is False and response.json["error"]["code"] == code
    assert tenants() == 0


def test_one_megabyte_body_is_refused(client, saleor):
    body = json.dumps({"auth_token": "x" * (1024 * 1024)})
    response = client.post("/api/register", data=body, headers={"Saleor-Api-Url": saleor.api_url})
    assert response.status_code == 413 and response.is_json
    assert tenants() == 0


def test_register_accepts_post_only(client):
    response = client.get("/api/register")
    assert response.status_code == 405 and response.is_json


def test_uninstall_forgets_credentials_and_keeps_referral_data(saleor, shop):
    deliveries = saleor.delete_app(shop.app)
    assert deliveries and deliveries[0].response.status_code == 200
    with session_scope() as session:
        tenant = session.scalar(select(Tenant))
        assert tenant.token_encrypted is None and tenant.uninstalled_at is not None
