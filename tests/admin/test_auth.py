"""Only a Saleor Dashboard user of *this* shop and *this* app gets into the admin API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from plugin.admin.auth import DashboardAuthError, verify_token
from plugin.db import session_scope
from plugin.program.models import ProgramSettings
from plugin.tenants.crypto import TokenBox
from plugin.tenants.models import Tenant
from tests.admin.helpers import add_tenant, auth_headers
from tests.conftest import PAYLOADS

SETTINGS = "/api/admin/settings"


@pytest.fixture
def dashboard_app(app, saleor):
    saleor_app = saleor.create_app("saleor.app.referrals")
    tenant_id = add_tenant(app, saleor, saleor_app)
    return saleor_app, tenant_id


def _refused(response, status=401, code=None):
    assert response.status_code == status, response.data
    assert response.is_json
    error = response.get_json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def test_valid_token_opens_the_api(client, saleor, dashboard_app):
    saleor_app, _ = dashboard_app
    response = client.get(
        "/api/admin/me", headers=auth_headers(saleor.mint_dashboard_token(saleor_app), saleor.api_url)
    )
    assert response.status_code == 200
    assert response.get_json()["email"] == "admin@example.com"


def test_no_token(client, saleor, dashboard_app):
    response = client.get(SETTINGS, headers={"saleor-api-url": saleor.api_url})
    _refused(response, code="MISSING_TOKEN")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_saleor_api_url(client, saleor, dashboard_app):
    saleor_app, _ = dashboard_app
    _refused(
        client.get(SETTINGS, headers={"authorization-bearer": saleor.mint_dashboard_token(saleor_app)}),
        code="MISSING_SALEOR_API_URL",
    )


def test_unknown_shop(client, saleor, dashboard_app):
    saleor_app, _ = dashboard_app
    headers = auth_headers(saleor.mint_dashboard_token(saleor_app), "http://127.0.0.1:1/graphql/")
    _refused(client.get(SETTINGS, headers=headers), code="NOT_INSTALLED")


def test_expired_token(client, saleor, dashboard_app):
    saleor_app, _ = dashboard_app
    token = saleor.mint_dashboard_token(saleor_app, iat=int(time.time()) - 600, ttl=300)
    _refused(client.get(SETTINGS, headers=auth_headers(token, saleor.api_url)), code="TOKEN_EXPIRED")


def test_wrong_signature(client, saleor, dashboard_app):
    from tests.saleor_emulator.signing import SigningKey

    saleor_app, _ = dashboard_app
    forged = saleor.mint_dashboard_token(saleor_app, key=SigningKey())  # the served kid, another key
    _refused(client.get(SETTINGS, headers=auth_headers(forged, saleor.api_url)), code="INVALID_SIGNATURE")


def test_tampered_claims(client, saleor, dashboard_app):
    saleor_app, _ = dashboard_app
    header, claims, signature = saleor.mint_dashboard_token(saleor_app, user_permissions=["MANAGE_ORDERS"]).split(".")
    from tests.saleor_emulator.signing import b64url_decode, b64url_encode

    data = json.loads(b64url_decode(claims))
    data["user_permissions"].append("MANAGE_DISCOUNTS")
    tampered = ".".join([header, b64url_encode(json.dumps(data).encode()), signature])
    _refused(client.get(SETTINGS, headers=auth_headers(tampered, saleor.api_url)), code="INVALID_SIGNATURE")


@pytest.mark.parametrize("forgery", [{"alg": "none"}, {"alg": "HS256", "key": "secret"}])
def test_unsigned_or_symmetric_tokens(client, saleor, dashboard_app, forgery):
    saleor_app, _ = dashboard_app
    token = saleor.mint_dashboard_token(saleor_app, **forgery)
    _refused(client.get(SETTINGS, headers=auth_headers(token, saleor.api_url)), code="INVALID_TOKEN")


def test_wrong_kid_refetches_the_jwks_once(client, saleor, dashboard_app):
    saleor_app, _ = dashboard_app
    before = saleor.jwks_requests
    token = saleor.mint_dashboard_token(saleor_app, kid="not-a-key-of-this-shop")
    _refused(client.get(SETTINGS, headers=auth_headers(token, saleor.api_url)), code="UNKNOWN_KEY")
    _refused(client.get(SETTINGS, headers=auth_headers(token, saleor.api_url)), code="UNKNOWN_KEY")
    assert saleor.jwks_requests - before == 1  # refetched once, then rate-limited


def test_rotated_key_is_learned_from_the_jwks(client, saleor, dashboard_app):
    saleor_app, tenant_id = dashboard_app
    saleor.rotate_key()
    token = saleor.mint_dashboard_token(saleor_app)
    assert client.get("/api/admin/me", headers=auth_headers(token, saleor.api_url)).status_code == 200
    with session_scope() as session:
        stored = json.loads(session.get(Tenant, tenant_id).jwks)
    assert stored["keys"][0]["kid"] == saleor.key.kid


def test_token_of_another_app(client, saleor, dashboard_app):
    other = saleor.create_app("someone-else")
    token = saleor.mint_dashboard_token(other)
    _refused(client.get(SETTINGS, headers=auth_headers(token, saleor.api_url)), code="WRONG_APP")


def test_token_of_another_shop(app, client, saleor, dashboard_app):
    """Shop B's valid token, sent with shop A's URL: B's keys are not A's."""
    from tests.saleor_emulator import SaleorEmulator

    with SaleorEmulator() as other_saleor:
        other_app = other_saleor.create_app("saleor.app.referrals")
        add_tenant(app, other_saleor, other_app)
        token_b = other_saleor.mint_dashboard_token(other_app)
        assert client.get("/api/admin/me", headers=auth_headers(token_b, other_saleor.api_url)).status_code == 200
        _refused(client.get(SETTINGS, headers=auth_headers(token_b, saleor.api_url)))


def test_token_issued_for_another_api_url(client, saleor, dashboard_app):
    """Same signing key (e.g. one Saleor serving two URLs), but the token names another issuer."""
    saleor_app, _ = dashboard_app
    token = saleor.mint_dashboard_token(saleor_app, issuer="http://127.0.0.1:9/graphql/")
    _refused(client.get(SETTINGS, headers=auth_headers(token, saleor.api_url)), code="WRONG_ISSUER")


def test_not_a_dashboard_token(client, saleor, dashboard_app):
    saleor_app, _ = dashboard_app
    token = saleor.mint_dashboard_token(saleor_app, extra_claims={"type": "access"})
    _refused(client.get(SETTINGS, headers=auth_headers(token, saleor.api_url)), code="INVALID_TOKEN")


def test_missing_permission_is_403(client, saleor, dashboard_app):
    saleor_app, _ = dashboard_app
    token = saleor.mint_dashboard_token(saleor_app, user_permissions=["MANAGE_ORDERS"])
    error = _refused(client.get(SETTINGS, headers=auth_headers(token, saleor.api_url)), 403, "PERMISSION_DENIED")
    assert "MANAGE_DISCOUNTS" in error["message"]
    # ... while the order lookup, which needs MANAGE_ORDERS only, answers.
    response = client.get("/api/admin/orders/T3JkZXI6MQ==", headers=auth_headers(token, saleor.api_url))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "NOT_FOUND"


def test_uninstalled_shop(client, saleor, dashboard_app):
    saleor_app, tenant_id = dashboard_app
    with session_scope() as session:
        session.get(Tenant, tenant_id).uninstalled_at = datetime.now(UTC)
    _refused(
        client.get(SETTINGS, headers=auth_headers(saleor.mint_dashboard_token(saleor_app), saleor.api_url)),
        code="NOT_INSTALLED",
    )


def test_a_refused_put_changes_nothing(client, saleor, dashboard_app):
    saleor_app, _ = dashboard_app
    forged = saleor.mint_dashboard_token(saleor_app, extra_claims={"app": "QXBwOjk5"})
    response = client.put(SETTINGS, headers=auth_headers(forged, saleor.api_url), json={"enabled": False})
    _refused(response, code="WRONG_APP")
    with session_scope() as session:
        assert session.scalar(select(ProgramSettings)) is None


def test_order_widget_refuses_a_bad_token_with_a_page(client, saleor, dashboard_app):
    response = client.post(
        "/dashboard/order-widget",
        data={"accessToken": "not.a.token", "saleorApiUrl": saleor.api_url, "orderId": "T3JkZXI6MQ=="},
    )
    assert response.status_code == 401
    assert response.mimetype == "text/html"
    assert b"The Dashboard token&#39;s header cannot be read." in response.data


# -- the real token captured from Saleor 3.23.28 ------------------------------------------------------

CAPTURED_TOKEN = (PAYLOADS / "app_access_token__H__1.jwt").read_text()
CAPTURED_CLAIMS = json.loads((PAYLOADS / "app_access_token__H__1.claims.json").read_text())["claims"]


@pytest.fixture
def captured_shop(app):
    box = TokenBox(app.config["SETTINGS"].secret_key)
    with session_scope() as session:
        tenant = Tenant(
            saleor_api_url="http://localhost:8000/graphql/",
            domain="localhost:8000",
            app_id="QXBwOjI=",
            token_encrypted=box.encrypt("revoked-app-token"),
            jwks=(PAYLOADS / "jwks.json").read_text(),
            jwks_fetched_at=datetime.now(UTC),
        )
        session.add(tenant)
        session.flush()
        return tenant


def test_real_saleor_token_verifies_before_its_expiry(client, captured_shop):
    moment = datetime.fromtimestamp(CAPTURED_CLAIMS["iat"] + 60, tz=UTC)
    with time_machine.travel(moment, tick=False):
        response = client.get("/api/admin/me", headers=auth_headers(CAPTURED_TOKEN, "http://localhost:8000/graphql/"))
    assert response.status_code == 200, response.data
    assert response.get_json()["email"] == "admin@example.com"


def test_real_saleor_token_with_explicit_clock(captured_shop):
    user = verify_token(
        CAPTURED_TOKEN,
        captured_shop,
        permission="MANAGE_DISCOUNTS",
        now=CAPTURED_CLAIMS["exp"] - 1,
        refetch_jwks=lambda tenant: None,
    )
    assert user.email == "admin@example.com" and user.actor == "merchant:admin@example.com"
    with pytest.raises(DashboardAuthError) as expired:
        verify_token(CAPTURED_TOKEN, captured_shop, now=CAPTURED_CLAIMS["exp"] + 1, refetch_jwks=lambda tenant: None)
    assert expired.value.code == "TOKEN_EXPIRED"


def test_real_saleor_token_is_refused_today(client, captured_shop):
    response = client.get("/api/admin/me", headers=auth_headers(CAPTURED_TOKEN, "http://localhost:8000/graphql/"))
    _refused(response, code="TOKEN_EXPIRED")
