"""Only Saleor's own word, read with our token, moves money or uninstalls a shop (issue 16, holes 1–3).

Saleor signs every app's deliveries with one instance key, and every app writes its own
subscription (with aliases). Here a second app is installed in the same emulated Saleor, with its
own token, its own permissions and its own aliased subscription; what it is sent is signed with
the same key as what we are sent. Whatever it forwards to us, Saleor's answer to *our* token decides.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
import requests
import time_machine
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope, utcnow
from plugin.referrals.models import OrderRecord, Referral
from plugin.webhooks.models import WebhookEvent
from tests.admin.helpers import Admin
from tests.conftest import Shop
from tests.flows import (
    coupons_for,
    ledger_of,
    live_codes,
    mails_with,
    make_advocate,
    order_record,
    referral_for,
    referred_order,
    set_program,
)
from tests.saleor_emulator.signing import sign_detached_jws

# What another app may subscribe to: its own query, with aliases that make an unpaid order look
# paid (`isPaid: isShippingRequired`) or a paid one look refunded (`totalRefunded: totalCharged`).
SECOND_APP_ORDER_FIELDS = """
fragment Looks on Order {
  id number updatedAt status chargeStatus
  isPaid: isShippingRequired
  userEmail
  channel { id slug currencyCode }
  total { gross { amount currency } }
  totalCharged { amount currency }
  totalRefunded: totalCharged { amount currency }
  voucherCode
  metadata { key value }
  languageCodeEnum
  shippingAddress { firstName lastName streetAddress1 streetAddress2 postalCode country { code } }
}
"""
SECOND_APP_SUBSCRIPTION = (
    SECOND_APP_ORDER_FIELDS
    + """
subscription {
  event {
    __typename issuedAt version
    recipient { id }
    ... on OrderCreated { order { ...Looks } }
    ... on OrderUpdated { order { ...Looks } }
  }
}
"""
)
SECOND_APP_LIFECYCLE = "subscription { event { __typename ... on AppDeleted { app { id } } } }"


def post(shop: Shop, path: str, body: bytes, headers: dict) -> requests.Response:
    sent = {k: v for k, v in headers.items() if k.lower() not in {"host", "content-length"}}
    return requests.post(f"{shop.server.url}{path}", data=body, headers=sent, timeout=30)


def signed_post(shop: Shop, path: str, body: bytes, event: str) -> requests.Response:
    """A body signed with the instance key, as Saleor signs whatever any app's subscription renders."""
    return post(
        shop,
        path,
        body,
        {
            "Content-Type": "application/json",
            "Saleor-Event": event,
            "Saleor-Domain": shop.saleor.domain,
            "Saleor-Api-Url": shop.saleor.api_url,
            "Saleor-Signature": sign_detached_jws(body, shop.saleor.key),
        },
    )


@pytest.fixture
def second_app(saleor):
    """Another app of the same Saleor: its own token and permissions, its own aliased subscription
    (its target is never called here: the test forwards what it would receive)."""
    return saleor.create_app(
        "saleor.app.other",
        permissions=["MANAGE_ORDERS"],
        webhooks=[
            {
                "name": "orders",
                "targetUrl": "http://127.0.0.1:9/orders",
                "query": SECOND_APP_SUBSCRIPTION,
                "asyncEvents": ["ORDER_CREATED", "ORDER_UPDATED"],
            },
            {
                "name": "lifecycle",
                "targetUrl": "http://127.0.0.1:9/app-deleted",
                "query": SECOND_APP_LIFECYCLE,
                "asyncEvents": ["APP_DELETED"],
            },
        ],
    )


def _for(deliveries, app, event):
    return next(d for d in deliveries if d.app.pk == app.pk and d.event == event)


def _events(order_id: str) -> list[WebhookEvent]:
    with session_scope() as session:
        return list(
            session.scalars(select(WebhookEvent).where(WebhookEvent.order_id == order_id).order_by(WebhookEvent.id))
        )


def _resigned_for(shop: Shop, body: bytes) -> bytes:
    """The same body with `recipient.id` naming our app: the recipient check is defence in depth,
    not the defence, so the decision must not depend on it."""
    payload = json.loads(body)
    payload["recipient"] = {"id": shop.app.id}
    return json.dumps(payload).encode()


# -- hole 1: uninstall ------------------------------------------------------------------------------


def test_hole1_a_signed_order_delivery_posted_as_app_deleted_uninstalls_nothing(shop):
    code = make_advocate(shop.saleor)
    carols = shop.saleor.create_order("carol@example.com", paid=True)
    genuine = _for(shop.saleor.emit(["ORDER_FULLY_PAID"], carols, deliver=False), shop.app, "ORDER_FULLY_PAID")
    response = post(
        shop,
        "/api/webhooks/app-deleted",
        genuine.body,
        {**genuine.headers, "Saleor-Event": "app_deleted", "X-Saleor-Event": "app_deleted"},
    )
    assert response.status_code == 200
    assert response.json() == {"ok": True, "uninstalled": False}
    assert shop.tenant().is_installed
    assert shop.server.app.test_client().get(f"/r/{code}").status_code == 200
    order = referred_order(shop.saleor, code)
    assert [c.state for c in coupons_for(order["id"])] == [Coupon.ISSUED, Coupon.ISSUED]


def test_second_app_cannot_uninstall_our_shop(shop, second_app):
    deliveries = shop.saleor.delete_app(second_app, deliver=False)
    its_own = _for(deliveries, second_app, "APP_DELETED")
    assert json.loads(its_own.body) == {"__typename": "AppDeleted", "app": {"id": second_app.id}}
    response = post(shop, "/api/webhooks/app-deleted", its_own.body, its_own.headers)
    assert response.status_code == 200 and response.json()["uninstalled"] is False
    assert shop.tenant().is_installed and shop.tenant().app_id == shop.app.id


def test_an_app_deleted_body_naming_our_app_changes_nothing_while_saleor_takes_our_token(shop):
    body = json.dumps({"__typename": "AppDeleted", "app": {"id": shop.app.id}}).encode()
    response = signed_post(shop, "/api/webhooks/app-deleted", body, "app_deleted")
    assert response.status_code == 200 and response.json()["uninstalled"] is False
    assert shop.tenant().is_installed
    asked = [r for r in shop.saleor.requests if r.operation == "AppId"]
    assert asked and asked[-1].app_id == shop.app.id, "Saleor was asked with our stored token"


def test_deleting_our_app_in_saleor_uninstalls_the_shop(shop):
    deliveries = shop.saleor.delete_app(shop.app)
    ours = _for(deliveries, shop.app, "APP_DELETED")
    assert ours.status_code == 200 and ours.response.json() == {"ok": True, "uninstalled": True}
    tenant = shop.tenant()
    assert tenant.token_encrypted is None and tenant.uninstalled_at is not None
    assert ours.resend().status_code == 200, "Saleor delivering it again is answered the same"


def test_app_deleted_waits_for_saleor_when_it_cannot_confirm(shop):
    deliveries = shop.saleor.delete_app(shop.app, deliver=False)
    ours = _for(deliveries, shop.app, "APP_DELETED")
    shop.saleor.faults.failure_rate, shop.saleor.faults.failure_status = 1.0, 503
    assert ours.send().status_code == 503, "Saleor will deliver it again"
    assert shop.tenant().is_installed
    shop.saleor.faults.reset()
    assert ours.resend().status_code == 200
    assert not shop.tenant().is_installed


# -- hole 2: register ------------------------------------------------------------------------------


def _register(shop: Shop, token: str) -> requests.Response:
    return requests.post(
        f"{shop.server.url}/api/register",
        json={"auth_token": token},
        timeout=30,
        headers={"Saleor-Api-Url": shop.saleor.api_url, "Saleor-Domain": shop.saleor.domain},
    )


def test_hole2_another_apps_token_cannot_take_over_an_installed_shop(shop, saleor):
    other = saleor.create_app("saleor.app.nothing", permissions=[])
    before = shop.tenant()
    response = _register(shop, other.token)
    assert response.status_code == 409
    assert response.json() == {
        "success": False,
        "error": {"code": "APP_ALREADY_INSTALLED", "message": response.json()["error"]["message"]},
    }
    after = shop.tenant()
    assert (after.app_id, bytes(after.token_encrypted)) == (shop.app.id, bytes(before.token_encrypted))
    code = make_advocate(saleor)
    order = referred_order(saleor, code)
    assert [c.state for c in coupons_for(order["id"])] == [Coupon.ISSUED, Coupon.ISSUED], "still our shop"


def test_second_app_with_order_permissions_cannot_re_register_either(shop, second_app):
    assert _register(shop, second_app.token).status_code == 409
    assert shop.tenant().app_id == shop.app.id


def test_reinstalling_the_same_app_replaces_its_token(shop, saleor):
    new_token = saleor.revoke_token(shop.app)  # the same app, a new token
    assert _register(shop, new_token).status_code == 200
    assert shop.tenant().app_id == shop.app.id


def test_reinstall_after_deleting_the_app_registers_and_a_late_app_deleted_keeps_the_new_install(shop, saleor):
    """Saleor's reinstall: the old app is deleted (its token dies), the new one registers, and the old
    app's APP_DELETED may arrive only afterwards."""
    old = shop.app
    late = _for(saleor.delete_app(old, deliver=False), old, "APP_DELETED")
    result = saleor.install(f"{shop.server.url}/api/manifest")
    assert result.response.status_code == 200, result.response.text
    assert shop.tenant().app_id == result.app.id != old.id
    assert late.send().status_code == 200 and late.response.json()["uninstalled"] is False
    assert shop.tenant().is_installed and shop.tenant().app_id == result.app.id


# -- hole 3: rewards -------------------------------------------------------------------------------


def test_hole3_second_apps_aliased_body_issues_no_rewards_for_an_unpaid_order(shop, second_app):
    code = make_advocate(shop.saleor)
    order = referred_order(shop.saleor, code, paid=False, deliver=False)
    deliveries = shop.saleor.checkout_complete(order, deliver=False)
    forwarded = _for(deliveries, second_app, "ORDER_CREATED")
    assert json.loads(forwarded.body)["order"]["isPaid"] is True, "the alias makes it look paid"
    assert shop.saleor.get_order(order)["isPaid"] is False
    assert post(shop, "/api/webhooks/saleor", forwarded.body, forwarded.headers).status_code == 200
    assert coupons_for(order["id"]) == [] and referral_for(order["id"]) is None
    [event] = _events(order["id"])
    assert event.status == WebhookEvent.DONE
    assert event.last_error.startswith("Ignored: this delivery was rendered for another app")


def test_a_signed_body_naming_our_app_is_only_a_hint_saleors_order_decides(shop, second_app):
    code = make_advocate(shop.saleor)
    order = referred_order(shop.saleor, code, paid=False, deliver=False)
    forwarded = _for(shop.saleor.checkout_complete(order, deliver=False), second_app, "ORDER_CREATED")
    response = signed_post(shop, "/api/webhooks/saleor", _resigned_for(shop, forwarded.body), "order_fully_paid")
    assert response.status_code == 200
    assert coupons_for(order["id"]) == [] and referral_for(order["id"]) is None
    record = order_record(order["id"])
    assert (record.is_paid, record.charge_status) == (False, "NONE"), "Saleor's state, not the body's"
    reads = [r for r in shop.saleor.requests if r.operation == "OrderForReferral"]
    assert reads[-1].variables == {"id": order["id"]} and reads[-1].app_id == shop.app.id

    shop.saleor.pay(order)  # now Saleor says paid: the real deliveries issue the rewards
    assert [c.state for c in coupons_for(order["id"])] == [Coupon.ISSUED, Coupon.ISSUED]


def test_an_order_saleor_does_not_know_changes_nothing(shop):
    make_advocate(shop.saleor)
    daves = shop.saleor.create_order("dave@example.com", paid=True)
    body = _for(shop.saleor.emit(["ORDER_FULLY_PAID"], daves, deliver=False), shop.app, "ORDER_FULLY_PAID").payload
    body["order"]["id"] = base64.b64encode(f"Order:{uuid.uuid4()}".encode()).decode()  # an order nobody has
    response = signed_post(shop, "/api/webhooks/saleor", json.dumps(body).encode(), "order_fully_paid")
    assert response.status_code == 200
    [event] = _events(body["order"]["id"])
    assert event.status == WebhookEvent.DONE and event.last_error.startswith("Ignored: Saleor shows no order")
    with session_scope() as session:
        assert session.scalar(select(OrderRecord).where(OrderRecord.saleor_order_id == body["order"]["id"])) is None


def test_the_legitimate_flow_issues_both_coupons_exactly_once_beside_a_second_app(shop, second_app):
    code = make_advocate(shop.saleor)
    order = referred_order(shop.saleor, code, deliver=False)
    deliveries = shop.saleor.checkout_complete(order, deliver=False)
    ours = [d for d in deliveries if d.app.pk == shop.app.pk]
    assert {d.event for d in ours} == {"ORDER_CREATED", "ORDER_PAID", "ORDER_FULLY_PAID", "ORDER_UPDATED"}
    for delivery in deliveries:
        if delivery.app.pk == second_app.pk:
            post(shop, "/api/webhooks/saleor", delivery.body, delivery.headers)
    for delivery in ours + ours:  # and Saleor delivers everything twice
        assert delivery.send().status_code == 200
    coupons = coupons_for(order["id"])
    assert [(c.purpose, c.state) for c in coupons] == [
        (Coupon.FRIEND_REWARD, Coupon.ISSUED),
        (Coupon.REFERRER_REWARD, Coupon.ISSUED),
    ]
    assert live_codes(shop.saleor, [c.code for c in coupons]) == {c.code for c in coupons}
    assert len([c for c in shop.saleor.voucher_codes() if c.startswith(("THANKS-", "WELCOME-"))]) == 2
    messages = shop.smtp.wait_for(4)
    assert [len(mails_with(messages, c.code)) for c in coupons] == [1, 1]


def test_a_forged_refunded_body_revokes_nothing_saleor_says_is_paid(shop, second_app):
    code = make_advocate(shop.saleor)
    order = referred_order(shop.saleor, code, total="40.00")
    coupons = coupons_for(order["id"])
    assert [c.state for c in coupons] == [Coupon.ISSUED, Coupon.ISSUED]
    shop.saleor.update_order(order, customer_note="gift wrap")  # any change: ORDER_UPDATED goes out
    forged = _for(shop.saleor.emit(["ORDER_UPDATED"], order, deliver=False), second_app, "ORDER_UPDATED")
    assert json.loads(forged.body)["order"]["totalRefunded"]["amount"] == 40.0, "the alias makes it look refunded"
    assert post(shop, "/api/webhooks/saleor", forged.body, forged.headers).status_code == 200
    response = signed_post(shop, "/api/webhooks/saleor", _resigned_for(shop, forged.body), "order_fully_refunded")
    assert response.status_code == 200
    assert referral_for(order["id"]).state == Referral.ISSUED
    assert [c.state for c in coupons_for(order["id"])] == [Coupon.ISSUED, Coupon.ISSUED]
    assert live_codes(shop.saleor, [c.code for c in coupons]) == {c.code for c in coupons}
    assert order_record(order["id"]).total_refunded == 0


def test_saleor_down_while_processing_leaves_the_event_pending_then_processes_it_once(shop):
    code = make_advocate(shop.saleor)
    shop.saleor.faults.failure_rate, shop.saleor.faults.failure_status = 1.0, 503
    order = referred_order(shop.saleor, code)
    events = _events(order["id"])
    assert events and all(e.status == WebhookEvent.PENDING for e in events), "stored, acknowledged, waiting"
    assert all(e.last_error.startswith("SaleorUnavailable") for e in events)
    assert order_record(order["id"]) is None and coupons_for(order["id"]) == []

    shop.saleor.faults.reset()
    from plugin.sweeper import sweep

    with time_machine.travel(utcnow() + timedelta(minutes=2)):
        assert sweep()["events"] == len(events)
    with time_machine.travel(utcnow() + timedelta(minutes=4)):
        assert sweep()["events"] == 0
    assert all(e.status == WebhookEvent.DONE for e in _events(order["id"]))
    coupons = coupons_for(order["id"])
    assert [c.state for c in coupons] == [Coupon.ISSUED, Coupon.ISSUED]
    assert len([c for c in shop.saleor.voucher_codes() if c.startswith(("THANKS-", "WELCOME-"))]) == 2


# -- money approved later: hold release and the merchant's approval read Saleor too -------------------


def _held_referral(shop: Shop):
    set_program(hold_days=14)
    code = make_advocate(shop.saleor)
    order = referred_order(shop.saleor, code)
    referral = referral_for(order["id"])
    assert referral.state == Referral.HELD and coupons_for(order["id"]) == []
    return order, referral


def test_hold_release_reads_the_order_a_refund_whose_webhook_was_missed_stops_it(shop):
    order, referral = _held_referral(shop)
    shop.saleor.refund(order, deliver=False)  # Saleor knows; its webhook never reached us
    assert order_record(order["id"]).total_refunded == 0
    from plugin.referrals.tasks import release_holds

    with time_machine.travel(referral.hold_until + timedelta(minutes=5), tick=True):
        assert release_holds(shop.tenant().id) == 0
    assert referral_for(order["id"]).state == Referral.REVOKED
    assert ledger_of(order["id"])[-1][1:3] == (Referral.REVOKED, "The friend's order was fully refunded.")
    assert coupons_for(order["id"]) == []


def test_hold_release_waits_while_saleor_is_down(shop):
    order, referral = _held_referral(shop)
    from plugin.referrals.tasks import release_holds

    shop.saleor.faults.failure_rate, shop.saleor.faults.failure_status = 1.0, 503
    with time_machine.travel(referral.hold_until + timedelta(minutes=5), tick=True):
        assert release_holds(shop.tenant().id) == 0
        assert referral_for(order["id"]).state == Referral.HELD
        shop.saleor.faults.reset()
        assert release_holds(shop.tenant().id) == 1
    assert [c.state for c in coupons_for(order["id"])] == [Coupon.ISSUED, Coupon.ISSUED]


def test_the_merchants_approval_reads_the_order_from_saleor(shop):
    order, referral = _held_referral(shop)
    admin = Admin(shop.server.app.test_client(), shop.saleor, shop.app, email="owner@shop.example")
    shop.saleor.faults.failure_rate, shop.saleor.faults.failure_status = 1.0, 503
    response = admin.post(f"/api/admin/referrals/{referral.id}/approve")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "SALEOR_UNAVAILABLE"
    assert referral_for(order["id"]).state == Referral.HELD
    shop.saleor.faults.reset()

    shop.saleor.refund(order, deliver=False)  # Saleor knows; its webhook never reached us
    response = admin.post(f"/api/admin/referrals/{referral.id}/approve")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "ORDER_NO_LONGER_QUALIFIES"
    assert referral_for(order["id"]).state == Referral.HELD and coupons_for(order["id"]) == []
    assert order_record(order["id"]).total_refunded == 40
