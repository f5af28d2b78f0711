"""Export (JSON of everything stored about an e-mail) and the admin API for both operations."""

from __future__ import annotations

import json

import pytest
import requests

from plugin.privacy import service
from tests.flows import tenant_id
from tests.privacy.people import FIONA, FIONA_NORMALISED, build_history, cells_mentioning


def test_export_holds_everything_about_the_person_and_masks_others(served):
    history = build_history(served.saleor)
    data = service.export(tenant_id(), "FionaFriend@gmail.com", secret=served.secret)  # any spelling works
    json.dumps(data)  # plain JSON
    assert data["found"] is True and data["normalized_email"] == FIONA_NORMALISED
    assert [a["code"] for a in data["advocate"]] == [history.fiona_code]
    assert data["advocate"][0]["contact_email"] == FIONA
    assert {o["saleor_order_id"] for o in data["orders"]} >= {history.fiona_order["id"]}
    assert len(data["orders"]) == 2
    assert [c["email"] for c in data["friend_claims"]] == [FIONA_NORMALISED]
    assert [r["saleor_order_id"] for r in data["referrals_as_friend"]] == [history.fiona_order["id"]]
    # As an advocate she sees her friends the way the portal shows them: masked.
    as_advocate = data["referrals_as_advocate"]
    assert {r["friend_email"] for r in as_advocate} == {"g***@e***.com", "h***@m***.com"}
    assert "gina" not in json.dumps(as_advocate).lower()
    purposes = sorted(c["purpose"] for c in data["coupons"])
    assert purposes == ["friend_offer", "friend_reward", "referrer_reward"]  # Hank's is still held
    assert {c["code"] for c in data["coupons"]} >= {history.codes["fiona_offer"], history.codes["fiona:friend_reward"]}
    assert data["ledger"] and all("to_state" in e for e in data["ledger"])
    assert data["emails"] and all(e["to_email"].lower() in (FIONA.lower(), FIONA_NORMALISED) for e in data["emails"])
    events = data["webhook_events"]
    assert events and {e["payload"]["order"]["userEmail"] for e in events} == {FIONA, "fionafriend@gmail.com"}
    assert all("tenant_id" not in row for row in data["orders"])


def test_export_of_an_unknown_email_is_empty(served):
    data = service.export(tenant_id(), "nobody@example.com", secret=served.secret)
    assert data["found"] is False and data["orders"] == [] and data["advocate"] == []


def _call(served, path, body, token=None, raw=None):
    headers = {"saleor-api-url": served.saleor.api_url, "Content-Type": "application/json"}
    if token:
        headers["authorization-bearer"] = token
    return requests.post(
        f"{served.server.url}/api/admin/privacy/{path}",
        headers=headers,
        timeout=30,
        data=raw if raw is not None else json.dumps(body),
    )


@pytest.mark.parametrize("path", ["export", "erase"])
def test_admin_api_refuses_without_a_dashboard_token_or_permission(served, path):
    build_history(served.saleor)
    assert _call(served, path, {"email": FIONA}).status_code == 401
    no_customers = served.saleor.mint_dashboard_token(
        served.saleor_app, user_permissions=["MANAGE_ORDERS", "MANAGE_DISCOUNTS"]
    )
    response = _call(served, path, {"email": FIONA}, no_customers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "PERMISSION_DENIED"
    assert len(cells_mentioning(FIONA_NORMALISED)) > 0  # nothing was erased


@pytest.mark.parametrize(
    "raw, code",
    [
        ("not json", "INVALID_JSON"),
        ("", "INVALID_JSON"),
        ('{"email": "nope"}', "INVALID_EMAIL"),
        ('{"email": 42}', "INVALID_EMAIL"),
        ('["fiona@example.com"]', "INVALID_EMAIL"),
    ],
)
def test_admin_api_bad_input_is_a_clear_400(served, raw, code):
    token = served.saleor.mint_dashboard_token(served.saleor_app)
    for path in ("export", "erase"):
        response = _call(served, path, None, token, raw=raw)
        assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_admin_api_exports_then_erases(served):
    history = build_history(served.saleor)
    token = served.saleor.mint_dashboard_token(served.saleor_app, email="dpo@example.com")
    exported = _call(served, "export", {"email": FIONA}, token)
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    assert exported.json()["advocate"][0]["code"] == history.fiona_code

    erased = _call(served, "erase", {"email": FIONA}, token)
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["complete"] is True and body["codes_deleted"] == 2 and body["pseudonym"].startswith("erased-")
    assert cells_mentioning(FIONA, FIONA_NORMALISED) == []
    assert history.codes["fiona:friend_reward"] not in served.saleor.voucher_codes()
    assert _call(served, "export", {"email": FIONA}, token).json()["advocate"][0]["contact_email"] == body["pseudonym"]
