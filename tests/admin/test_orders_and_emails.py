"""The order-details widget and the e-mail resend: what a merchant checks when a customer asks."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.mail.models import OutboundEmail
from tests.admin.helpers import Admin
from tests.flows import coupons_for, mails_with, make_advocate, referred_order


@pytest.fixture
def server(install_shop):
    # SMTP points at a closed port first: every e-mail fails until the test fixes it.
    shop = install_shop(smtp_url="smtp://127.0.0.1:9?timeout=1")
    shop.server.admin = Admin(shop.flask_app.test_client(), shop.saleor, shop.app)
    return shop.server


def test_order_api_explains_a_referred_order(server, saleor):
    code = make_advocate(saleor)
    order = referred_order(saleor, code, email="bob@example.com")
    data = server.admin.get(f"/api/admin/orders/{order['id']}").get_json()
    assert data["status"] == "referred" and data["referred"] is True
    assert code in data["note"]
    assert data["referral"]["advocate"]["code"] == code
    assert data["referral"]["friend"]["email"] == "bob@example.com"
    assert {r["code"] for r in data["rewards"]} == {c.code for c in coupons_for(order["id"])}
    assert len(data["rewards"]) == 2


def test_order_widget_shows_who_referred_and_the_rewards(server, saleor):
    code = make_advocate(saleor)
    order = referred_order(saleor, code, email="bob@example.com")
    token = saleor.mint_dashboard_token(server.admin.app, user_permissions=["MANAGE_ORDERS"])
    response = server.app.test_client().post(
        "/dashboard/order-widget",
        data={
            "accessToken": token,
            "saleorApiUrl": saleor.api_url,
            "appId": server.admin.app.id,
            "orderId": order["id"],
        },
    )
    assert response.status_code == 200, response.data
    html = response.get_data(as_text=True)
    assert "Referred" in html and f"code {code}" in html
    for coupon in coupons_for(order["id"]):
        assert coupon.code in html
    values = re.findall(r'<td class="num">([^<]*)</td>', html)
    assert sorted(values) == ["$10", "10%"]  # the advocate's fixed reward, the friend's percentage
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_order_widget_says_why_an_order_was_not_referred(server, saleor):
    order = saleor.create_order("solo@example.com", paid=True)
    saleor.checkout_complete(order)
    response = server.app.test_client().post(
        "/dashboard/order-widget",
        data={
            "accessToken": saleor.mint_dashboard_token(server.admin.app),
            "saleorApiUrl": saleor.api_url,
            "orderId": order["id"],
        },
    )
    html = response.get_data(as_text=True)
    assert "Not referred" in html and "carries no referral code" in html
    assert "made the customer an advocate" in html  # a paid order makes its buyer an advocate


def test_order_widget_escapes_what_customers_typed(server, saleor):
    code = make_advocate(saleor)
    order = saleor.create_order(
        "eve@example.com",
        first_name="<script>alert(1)</script>",
        total="40.00",
        metadata={"referral_code": code},
        paid=True,
    )
    saleor.checkout_complete(order)
    html = (
        server.app.test_client()
        .post(
            "/dashboard/order-widget",
            data={
                "accessToken": saleor.mint_dashboard_token(server.admin.app),
                "saleorApiUrl": saleor.api_url,
                "orderId": order["id"],
            },
        )
        .get_data(as_text=True)
    )
    assert "<script>alert(1)</script>" not in html


def test_a_failed_email_can_be_resent_and_the_coupon_arrives(server, saleor, smtp):
    code = make_advocate(saleor)
    order = referred_order(saleor, code, email="bob@example.com")
    friend_coupon = next(c for c in coupons_for(order["id"]) if c.purpose == Coupon.FRIEND_REWARD)
    with session_scope() as session:  # what twelve failed attempts leave behind
        email = session.scalar(select(OutboundEmail).where(OutboundEmail.coupon_id == friend_coupon.id))
        email.status, email.attempts = OutboundEmail.FAILED, 12
        email_id = email.id

    failed = server.admin.get("/api/admin/emails", query_string={"status": "failed"}).get_json()["items"]
    assert [(e["id"], e["coupon_code"]) for e in failed] == [(email_id, friend_coupon.code)]
    assert failed[0]["last_error"]  # the merchant sees why

    server.app.config["SETTINGS"].smtp_url = smtp.url  # the mail server is back
    response = server.admin.post(f"/api/admin/emails/{email_id}/resend")
    assert response.status_code == 200, response.data
    assert response.get_json()["status"] == "sent"
    messages = smtp.wait_for(1)
    assert [m["To"] for m in mails_with(messages, friend_coupon.code)] == ["bob@example.com"]
    assert server.admin.get("/api/admin/emails", query_string={"status": "failed"}).get_json()["items"] == []


def test_resending_a_revoked_coupon_is_refused(server, saleor):
    code = make_advocate(saleor)
    order = referred_order(saleor, code, email="bob@example.com")
    referral_id = coupons_for(order["id"])[0].referral_id
    assert server.admin.post(f"/api/admin/referrals/{referral_id}/reject").status_code == 200  # coupons taken back
    coupon = next(c for c in coupons_for(order["id"]) if c.purpose == Coupon.REFERRER_REWARD)
    assert coupon.state == Coupon.REVOKED
    with session_scope() as session:
        email_id = session.scalar(select(OutboundEmail.id).where(OutboundEmail.coupon_id == coupon.id))
    response = server.admin.post(f"/api/admin/emails/{email_id}/resend")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "COUPON_REVOKED"


def test_resending_an_unknown_email_is_404(server):
    assert server.admin.post("/api/admin/emails/424242/resend").status_code == 404
