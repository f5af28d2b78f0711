"""The merchant's API: forged Dashboard tokens are refused on every route, and a signed-in merchant's
hostile input gets a 4xx (never a 5xx) and, when refused, changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, dumps, hostile_text, json_values, table_counts, unchanged_unless_accepted


def _sample(match: re.Match) -> str:
    converter = match.group(1) or ""
    if converter.startswith("int"):
        return "1"
    if converter.startswith("any("):
        return converter[4:].split(",")[0].strip(" )")
    if converter.startswith("path"):
        return "T3JkZXI6MQ=="
    return "x"


def admin_routes(flask_app) -> list[tuple[str, str]]:
    """(method, path) of every /api/admin route, with a sample value for each URL parameter."""
    routes = set()
    for rule in flask_app.url_map.iter_rules():
        if rule.rule.startswith("/api/admin"):
            path = re.sub(r"<(?:([^<>]+):)?[a-z_]+>", _sample, rule.rule)
            routes.update((method, path) for method in rule.methods - {"HEAD", "OPTIONS"})
    return sorted(routes)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_tokens(shop, other_saleor=None) -> dict[str, str]:
    from tests.saleor_emulator.signing import SigningKey

    saleor, app = shop.saleor, shop.app
    valid = saleor.mint_dashboard_token(app)
    head, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    hs_head = b64(json.dumps({"alg": "HS256", "kid": saleor.key.kid, "typ": "JWT"}).encode())
    hs_signature = b64(hmac.new(saleor.key.public_pem, f"{hs_head}.{payload}".encode(), hashlib.sha256).digest())
    elevated = b64(
        json.dumps(
            {**claims, "user_permissions": claims["user_permissions"] + ["MANAGE_APPS"], "email": "mallory@example.com"}
        ).encode()
    )
    other_app = saleor.create_app("com.example.other-app", permissions=["MANAGE_DISCOUNTS", "MANAGE_ORDERS"])
    tokens = {
        "alg none": saleor.mint_dashboard_token(app, alg="none"),
        "HS256 keyed with the public key": f"{hs_head}.{payload}.{hs_signature}",
        "unknown kid": saleor.mint_dashboard_token(app, kid="not-a-known-kid"),
        "another key, the served kid": saleor.mint_dashboard_token(app, key=SigningKey()),
        "expired": saleor.mint_dashboard_token(app, iat=int(time.time()) - 600, ttl=300),
        "no expiry": saleor.mint_dashboard_token(app, extra_claims={"exp": None}),
        "another app of the same Saleor": saleor.mint_dashboard_token(other_app),
        "tampered claims": f"{head}.{elevated}.{signature}",
        "signature cut off": f"{head}.{payload}.",
        "a staff token, not an app token": saleor.mint_staff_token(),
        "garbage": "not.a.jwt",
    }
    if other_saleor is not None:
        tokens["valid in another Saleor"] = other_saleor.mint_dashboard_token(
            other_saleor.app_by_identifier(app.identifier)
        )
    return tokens


@pytest.fixture
def other_tenant(saleor, fuzz_shop):
    """A second shop that installed the same app, so its Dashboard tokens are genuine elsewhere."""
    from tests.saleor_emulator import SaleorEmulator

    other = SaleorEmulator().start()
    assert other.install(f"{fuzz_shop.server.url}/api/manifest").response.status_code == 200
    yield other
    other.stop()


def test_every_admin_route_refuses_every_forged_token(fuzz_shop, other_tenant):
    routes = admin_routes(fuzz_shop.flask_app)
    assert len(routes) >= 10, routes
    tokens = forged_tokens(fuzz_shop, other_tenant)
    client = fuzz_shop.client
    before = table_counts()
    for name, token in tokens.items():
        for method, path in routes:
            for headers in (
                {"authorization-bearer": token, "saleor-api-url": fuzz_shop.saleor.api_url},
                {"Authorization": f"Bearer {token}", "saleor-api-url": fuzz_shop.saleor.api_url},
            ):
                response = client.open(
                    path,
                    method=method,
                    headers=headers,
                    json={"ids": [1], "action": "approve", "email": "alice@example.com"},
                )
                assert response.status_code == 401, (
                    name,
                    method,
                    path,
                    response.status_code,
                    response.get_data(as_text=True),
                )
    assert table_counts() == before
    genuine = client.get(
        "/api/admin/me",
        headers={
            "authorization-bearer": fuzz_shop.saleor.mint_dashboard_token(fuzz_shop.app),
            "saleor-api-url": fuzz_shop.saleor.api_url,
        },
    )
    assert genuine.status_code == 200, "a genuine token is accepted (so the refusals above mean something)"


def test_a_token_of_another_shop_cannot_select_our_shop_and_vice_versa(fuzz_shop, other_tenant):
    theirs = other_tenant.mint_dashboard_token(other_tenant.app_by_identifier(fuzz_shop.app.identifier))
    ours = fuzz_shop.saleor.mint_dashboard_token(fuzz_shop.app)
    client = fuzz_shop.client
    assert (
        client.get(
            "/api/admin/me", headers={"authorization-bearer": theirs, "saleor-api-url": fuzz_shop.saleor.api_url}
        ).status_code
        == 401
    )
    assert (
        client.get(
            "/api/admin/me", headers={"authorization-bearer": ours, "saleor-api-url": other_tenant.api_url}
        ).status_code
        == 401
    )
    assert (
        client.get(
            "/api/admin/me", headers={"authorization-bearer": theirs, "saleor-api-url": other_tenant.api_url}
        ).status_code
        == 200
    )


def test_the_order_widget_page_refuses_forged_tokens(fuzz_shop, other_tenant):
    for name, token in forged_tokens(fuzz_shop, other_tenant).items():
        with unchanged_unless_accepted() as responses:
            response = fuzz_shop.client.post(
                "/dashboard/order-widget",
                data={
                    "accessToken": token,
                    "saleorApiUrl": fuzz_shop.saleor.api_url,
                    "orderId": fuzz_shop.advocate_order_id,
                },
            )
            responses.append(response)
        assert response.status_code == 401, (name, response.status_code)


def test_a_merchant_without_the_permission_is_refused(fuzz_shop):
    token = fuzz_shop.saleor.mint_dashboard_token(fuzz_shop.app, user_permissions=["MANAGE_ORDERS"])
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.put(
            "/api/admin/settings",
            json={"hold_days": 3},
            headers={"authorization-bearer": token, "saleor-api-url": fuzz_shop.saleor.api_url},
        )
        responses.append(response)
    assert response.status_code == 403


# -- hostile input from a signed-in merchant --------------------------------------------------------------


def signed_in(shop) -> dict[str, str]:
    return {"authorization-bearer": shop.saleor.mint_dashboard_token(shop.app), "saleor-api-url": shop.saleor.api_url}


settings_documents = st.one_of(
    json_values,
    st.dictionaries(
        st.sampled_from(
            [
                "enabled",
                "trigger_status",
                "default_rewards",
                "channels",
                "friend_offer",
                "hold_days",
                "caps",
                "storefront_url",
                "storefront_url_template",
                "storefront_origins",
                "email",
                "widget",
                "languages",
                "default_locale",
                "fraud",
                "ab_test",
                "version",
                "settings",
            ]
        ),
        json_values,
        max_size=5,
    ),
)


@FUZZ
@given(document=settings_documents, raw=st.none() | st.binary(max_size=300))
def test_hostile_settings_are_refused_without_a_change(fuzz_shop, document, raw):
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.put(
            "/api/admin/settings",
            data=raw if raw is not None else dumps(document),
            headers={**signed_in(fuzz_shop), "Content-Type": "application/json"},
        )
        responses.append(response)
    assert response.status_code in (200, 400, 409, 413), response.get_data(as_text=True)[:300]


@FUZZ
@given(
    body=json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "kind": hostile_text(20) | st.sampled_from(["invite", "referrer_reward", "friend_reward", "friend_offer"]),
            "locale": hostile_text(10),
            "channel": json_values,
            "settings": json_values,
        },
    )
)
def test_hostile_email_previews_never_fail_or_write(fuzz_shop, body):
    before = table_counts()
    response = fuzz_shop.client.post(
        "/api/admin/email-preview",
        data=dumps(body),
        headers={**signed_in(fuzz_shop), "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]
    assert table_counts() == before, "a preview writes nothing"


query_params = st.dictionaries(
    st.sampled_from(["from", "to", "channel", "limit", "sort", "state", "status", "before_id", "table", "charts"]),
    hostile_text(40) | st.integers(-(10**20), 10**20).map(str) | st.dates().map(str),
    max_size=5,
)


@FUZZ
@given(
    path=st.sampled_from(
        [
            "/api/admin/stats",
            "/api/admin/stats.csv",
            "/api/admin/experiments",
            "/api/admin/advocates",
            "/api/admin/referrals",
            "/api/admin/emails",
            "/api/admin/settings/history",
            "/api/admin/settings",
            "/api/admin/me",
        ]
    ),
    params=query_params,
)
def test_hostile_query_parameters(fuzz_shop, path, params):
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.get(path, query_string=params, headers=signed_in(fuzz_shop))
        responses.append(response)
    assert response.status_code in (200, 400), (response.status_code, response.get_data(as_text=True)[:300])


@FUZZ
@given(order_id=hostile_text(300).filter(lambda s: s.strip("/") != ""))
def test_hostile_order_ids(fuzz_shop, order_id):
    from urllib.parse import quote

    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.get(f"/api/admin/orders/{quote(order_id, safe='')}", headers=signed_in(fuzz_shop))
        responses.append(response)
    assert response.status_code in (200, 404), response.status_code


@FUZZ
@given(
    path=st.sampled_from(
        [
            "/api/admin/referrals/bulk",
            "/api/admin/referrals/1/approve",
            "/api/admin/referrals/999/reject",
            "/api/admin/emails/1/resend",
            "/api/admin/privacy/export",
            "/api/admin/privacy/erase",
        ]
    ),
    body=json_values.map(dumps)
    | st.binary(max_size=200)
    | st.fixed_dictionaries(
        {},
        optional={
            "ids": json_values,
            "action": hostile_text(20),
            "note": json_values,
            "email": hostile_text(80),
            "confirm": json_values,
        },
    ).map(dumps),
)
def test_hostile_bodies_on_the_actions(fuzz_shop, path, body):
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.post(
            path, data=body, headers={**signed_in(fuzz_shop), "Content-Type": "application/json"}
        )
        responses.append(response)
    assert response.status_code < 500
