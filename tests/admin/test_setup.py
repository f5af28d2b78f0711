"""The setup checklist (`GET /api/admin/setup`): a fresh shop has everything to do; the widget counts
as seen only once it asked from an origin the merchant listed; a referred order finishes it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plugin.admin import channels as shop_channels
from plugin.db import session_scope
from plugin.tenants.models import Tenant
from tests.admin.helpers import Admin, add_tenant
from tests.flows import set_program

SHOP = "https://shop.example.com"


@pytest.fixture
def admin(app, client, saleor):
    shop_channels.forget()
    saleor_app = saleor.create_app("saleor.app.referrals")
    admin = Admin(client, saleor, saleor_app)
    admin.tenant_id = add_tenant(app, saleor, saleor_app)
    return admin


def checklist(admin) -> dict:
    response = admin.get("/api/admin/setup")
    assert response.status_code == 200, response.data
    return response.get_json()


def done(admin) -> dict[str, bool]:
    return {step["id"]: step["done"] for step in checklist(admin)["steps"]}


def widget_asks(client, saleor, origin: str | None):
    headers = {"Origin": origin} if origin else {}
    return client.get(
        "/api/widget/state", query_string={"saleorApiUrl": saleor.api_url, "orderId": "T3JkZXI6MQ=="}, headers=headers
    )


def test_a_fresh_shop_has_every_step_to_do_and_its_own_snippet(admin, saleor):
    data = checklist(admin)
    assert data["complete"] is False
    assert [(s["id"], s["done"]) for s in data["steps"]] == [
        ("storefront", False),
        ("widget_seen", False),
        ("test_order", False),
    ]
    widget = data["steps"][1]
    assert widget["snippets"]["html"] == (
        '<div id="referral"></div>\n'
        '<script src="http://127.0.0.1:3000/widget.js"\n'
        f'        data-saleor-api-url="{saleor.api_url}"\n'
        '        data-order-id="ORDER_ID"\n'
        '        data-target="#referral"\n'
        "        async></script>"
    )
    assert f'REFERRALS_SALEOR_API_URL = "{saleor.api_url}"' in widget["snippets"]["django"]
    assert "NEXT_PUBLIC_REFERRALS_APP_URL=http://127.0.0.1:3000\n" in widget["snippets"]["nextjs"]


def test_widget_counts_as_seen_only_from_a_listed_origin_and_only_the_first_time(admin, client, saleor):
    widget_asks(client, saleor, SHOP)  # nothing listed yet: the widget answers anyone, but it proves nothing
    widget_asks(client, saleor, None)
    assert done(admin)["widget_seen"] is False

    set_program(storefront_url=f"{SHOP}/", storefront_origins=[SHOP, "https://www.shop.example.com"])
    assert done(admin) == {"storefront": True, "widget_seen": False, "test_order": False}
    widget_asks(client, saleor, "https://evil.example")
    assert done(admin)["widget_seen"] is False

    assert widget_asks(client, saleor, "https://www.shop.example.com").status_code == 200
    widget_asks(client, saleor, SHOP)
    step = checklist(admin)["steps"][1]
    assert (step["done"], step["seen_origin"]) == (True, "https://www.shop.example.com")
    with session_scope() as session:
        assert session.scalar(select(Tenant.widget_seen_origin).where(Tenant.id == admin.tenant_id)) == (
            "https://www.shop.example.com"
        )


def test_a_referred_order_completes_the_checklist(shop):
    from tests.flows import make_advocate, referred_order

    saleor = shop.saleor
    admin = Admin(shop.flask_app.test_client(), saleor, shop.app)
    client = shop.flask_app.test_client()
    set_program(storefront_url=f"{SHOP}/", storefront_origins=[SHOP])
    widget_asks(client, saleor, SHOP)
    code = make_advocate(saleor)
    assert done(admin)["test_order"] is False
    referred_order(saleor, code)  # the friend's paid order makes them an advocate too
    data = checklist(admin)
    assert data["complete"] is True
    assert data["steps"][2] == {"id": "test_order", "done": True, "orders": 2, "advocates": 2, "referred_orders": 1}
