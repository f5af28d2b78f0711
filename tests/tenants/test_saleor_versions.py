"""Every maintained Saleor line installs the app and pays referrals: the emulator plays 3.21.69,
3.22.67 and 3.23.28 (its manifest validation, its `Saleor-Schema-Version`, its schema, its payloads'
`version`), and the app serves each the manifest it accepts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.tenants.models import Tenant
from tests.conftest import Shop
from tests.flows import coupons_for, make_advocate, referral_for, referred_order
from tests.saleor_emulator import SaleorEmulator

LINES = {"3.21": "3.21.69", "3.22": "3.22.67", "3.23": "3.23.28"}
ORDER_EXTENSION = {
    "3.21": ("ORDER_DETAILS_MORE_ACTIONS", "POPUP"),
    "3.22": ("ORDER_DETAILS_WIDGETS", "WIDGET"),
    "3.23": ("ORDER_DETAILS_WIDGETS", "WIDGET"),
}


@pytest.fixture(params=sorted(LINES))
def line(request):
    return request.param


@pytest.fixture
def saleor_of_line(line):
    with SaleorEmulator(version=line) as emulator:
        yield emulator


@pytest.fixture
def shop_on_line(saleor_of_line, live_server, line):
    result = saleor_of_line.install(f"{live_server.url}/api/manifest")
    assert result.ok, result.message
    return Shop(saleor_of_line, live_server, result.app), result


def test_each_line_installs_with_the_manifest_it_accepts_and_pays_both_sides(shop_on_line, line):
    shop, result = shop_on_line
    saleor = shop.saleor
    (extension,) = result.manifest["extensions"]
    assert (extension["mount"], extension["target"]) == ORDER_EXTENSION[line]
    assert result.manifest["requiredSaleorVersion"] == ">=3.21"
    register = result.response.request
    assert register.headers["Saleor-Schema-Version"] == line
    assert register.headers["User-Agent"] == f"Saleor/{line}"
    with session_scope() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.saleor_api_url == saleor.api_url))
        assert (tenant.saleor_version, tenant.is_installed) == (line, True)

    code = make_advocate(saleor)
    order = referred_order(saleor, code, total="40.00")

    coupons = coupons_for(order["id"])
    assert [(c.purpose, c.state) for c in coupons] == [
        (Coupon.FRIEND_REWARD, Coupon.ISSUED),
        (Coupon.REFERRER_REWARD, Coupon.ISSUED),
    ]
    assert {c.code for c in coupons} <= set(saleor.voucher_codes())
    assert referral_for(order["id"]).state == "issued"
    paid = [d for d in saleor.deliveries if d.event == "ORDER_FULLY_PAID" and d.sent]
    assert paid and {d.payload["version"] for d in paid} == {LINES[line]}
    assert saleor.validation_failures == 0  # every document the app sent is valid on this line


def test_the_manifest_get_names_the_line(saleor_of_line, live_server, line):
    result = saleor_of_line.install(f"{live_server.url}/api/manifest")
    assert result.ok, result.message
    manifest_get = saleor_of_line.manifest_fetches[0]
    assert manifest_get.headers["Saleor-Schema-Version"] == line
    assert manifest_get.headers["User-Agent"] == f"Saleor/{line}"


def test_manifest_answer_varies_with_the_header(client):
    popup = client.get("/api/manifest", headers={"Saleor-Schema-Version": "3.21"})
    widget = client.get("/api/manifest", headers={"Saleor-Schema-Version": "3.22"})
    assert popup.headers["Vary"] == "Saleor-Schema-Version"
    assert popup.json["extensions"][0]["target"] == "POPUP"
    assert widget.json["extensions"][0]["target"] == "WIDGET"
    assert client.get("/api/manifest").json["extensions"][0]["target"] == "POPUP"


def test_on_3_22_uninstalling_is_not_reported_and_a_reinstall_takes_over(line, saleor_of_line, live_server):
    """Before 3.23.5 APP_DELETED needs MANAGE_APPS, which the app does not ask for: Saleor revokes the
    token and tells nobody. The shop stays known to the app (its token now dead in Saleor); installing
    again replaces the token and everything goes on (README, "Uninstall")."""
    saleor = saleor_of_line
    first = saleor.install(f"{live_server.url}/api/manifest")
    assert first.ok, first.message
    deliveries = saleor.delete_app(first.app)
    with session_scope() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.saleor_api_url == saleor.api_url))
    if line == "3.23":
        assert [(d.event, d.status_code) for d in deliveries] == [("APP_DELETED", 200)]
        assert not tenant.is_installed
    else:
        assert deliveries == []
        assert tenant.is_installed
    again = saleor.install(f"{live_server.url}/api/manifest")
    assert again.ok, again.message
    with session_scope() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.saleor_api_url == saleor.api_url))
        assert (tenant.app_id, tenant.is_installed) == (again.app.id, True)
    code = make_advocate(saleor)
    order = referred_order(saleor, code)
    assert [c.state for c in coupons_for(order["id"])] == [Coupon.ISSUED, Coupon.ISSUED]
