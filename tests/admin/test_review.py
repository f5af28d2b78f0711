"""The review queue: held and flagged referrals, with reasons, approved or rejected by the merchant."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.referrals.models import LedgerEntry, Referral
from tests.admin.helpers import Admin
from tests.flows import coupons_for, make_advocate, referral_for, referred_order


@pytest.fixture
def admin(shop):
    """The merchant on the Dashboard of the installed shop."""
    return Admin(shop.flask_app.test_client(), shop.saleor, shop.app, email="owner@shop.example")


def _hold_everything(admin, days=7):
    assert admin.put("/api/admin/settings", {"hold_days": days}).status_code == 200


def _merchant_entries(referral_id):
    with session_scope() as session:
        return list(
            session.scalars(
                select(LedgerEntry).where(LedgerEntry.referral_id == referral_id, LedgerEntry.actor.like("merchant:%"))
            )
        )


def test_held_referral_shows_why_and_approving_issues_both_coupons(admin):
    _hold_everything(admin)
    code = make_advocate(admin.saleor)
    order = referred_order(admin.saleor, code, email="bob@example.com")
    referral = referral_for(order["id"])
    assert referral.state == Referral.HELD and coupons_for(order["id"]) == []

    queue = admin.get("/api/admin/referrals", query_string={"state": "held"}).get_json()["items"]
    assert [item["id"] for item in queue] == [referral.id]
    item = queue[0]
    assert item["friend"]["email"] == "bob@example.com" and item["advocate"]["code"] == code
    assert item["order"]["number"] == order["number"]
    assert any("same address" in r["reason"] for r in item["reasons"])  # the household rule's reason
    assert "7-day" in item["history"][-1]["reason"]

    response = admin.post(f"/api/admin/referrals/{referral.id}/approve")
    assert response.status_code == 200, response.data
    assert response.get_json()["ok"] is True

    coupons = coupons_for(order["id"])
    assert {c.purpose for c in coupons} == {Coupon.REFERRER_REWARD, Coupon.FRIEND_REWARD}
    assert all(c.state == Coupon.ISSUED for c in coupons)
    assert {c.code for c in coupons} <= set(admin.saleor.voucher_codes())
    assert referral_for(order["id"]).state == Referral.ISSUED
    assert [e.actor for e in _merchant_entries(referral.id)] == ["merchant:owner@shop.example"]
    assert admin.get("/api/admin/referrals", query_string={"state": "held"}).get_json()["items"] == []


def test_rejecting_a_held_referral_issues_nothing(admin):
    _hold_everything(admin)
    code = make_advocate(admin.saleor)
    order = referred_order(admin.saleor, code, email="carl@example.com")
    referral = referral_for(order["id"])
    codes_before = set(admin.saleor.voucher_codes())

    response = admin.post(f"/api/admin/referrals/{referral.id}/reject", {"note": "Known reseller."})
    assert response.status_code == 200
    assert referral_for(order["id"]).state == Referral.REJECTED
    assert coupons_for(order["id"]) == []
    assert set(admin.saleor.voucher_codes()) == codes_before
    (entry,) = _merchant_entries(referral.id)
    assert (entry.to_state, entry.reason, entry.actor) == ("rejected", "Known reseller.", "merchant:owner@shop.example")

    again = admin.post(f"/api/admin/referrals/{referral.id}/approve")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "NOT_REVIEWABLE"


def test_flagged_referral_was_rewarded_and_rejecting_takes_the_rewards_back(admin):
    code = make_advocate(admin.saleor)
    order = referred_order(admin.saleor, code, email="dora@example.com")
    referral = referral_for(order["id"])
    assert referral.decision == "flag" and referral.state == Referral.ISSUED
    issued = {c.code for c in coupons_for(order["id"])}
    assert issued <= set(admin.saleor.voucher_codes())

    flagged = admin.get("/api/admin/referrals", query_string={"state": "flagged"}).get_json()["items"]
    assert [item["id"] for item in flagged] == [referral.id]

    assert admin.post(f"/api/admin/referrals/{referral.id}/reject").status_code == 200
    assert referral_for(order["id"]).state == Referral.REJECTED
    assert {c.state for c in coupons_for(order["id"])} == {Coupon.REVOKED}
    assert not issued & set(admin.saleor.voucher_codes())  # deleted in Saleor
    assert admin.get("/api/admin/referrals", query_string={"state": "flagged"}).get_json()["items"] == []


def test_keeping_a_flagged_referral_leaves_the_queue(admin):
    code = make_advocate(admin.saleor)
    order = referred_order(admin.saleor, code, email="emil@example.com")
    referral = referral_for(order["id"])
    assert admin.post(f"/api/admin/referrals/{referral.id}/approve").status_code == 200
    assert referral_for(order["id"]).state == Referral.ISSUED
    assert len(_merchant_entries(referral.id)) == 1
    assert admin.get("/api/admin/referrals", query_string={"state": "flagged"}).get_json()["items"] == []


def test_bulk_actions_report_each_referral(admin):
    _hold_everything(admin)
    code = make_advocate(admin.saleor)
    ids = [referral_for(referred_order(admin.saleor, code, email=f"friend{i}@example.com")["id"]).id for i in range(2)]

    response = admin.post("/api/admin/referrals/bulk", {"action": "approve", "ids": ids + [999999]})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["ok"], body["failed"]) == (2, 1)
    assert [r["error"]["code"] for r in body["results"] if not r["ok"]] == ["NOT_FOUND"]
    with session_scope() as session:
        states = session.scalars(select(Referral.state).where(Referral.id.in_(ids))).all()
    assert states == [Referral.ISSUED, Referral.ISSUED]


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "delete", "ids": [1]},
        {"action": "approve", "ids": []},
        {"action": "approve", "ids": ["1"]},
        {"action": "approve", "ids": list(range(1, 300))},
        {"action": "approve", "ids": [1], "note": "x" * 600},
    ],
)
def test_bad_bulk_requests_are_400(admin, payload):
    response = admin.post("/api/admin/referrals/bulk", payload)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_BODY"


def test_unknown_queue_is_400(admin):
    response = admin.get("/api/admin/referrals", query_string={"state": "everything"})
    assert response.status_code == 400 and "state" in response.get_json()["error"]["fields"]
