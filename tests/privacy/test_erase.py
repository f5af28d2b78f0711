"""Erasure: no trace of the e-mail anywhere, analytics totals unchanged, the person's rewards in
flight cancelled (and deleted in Saleor), everybody else's rewards untouched."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.identity import is_pseudonym, pseudonym
from plugin.mail.models import OutboundEmail
from plugin.privacy import service
from plugin.referrals.models import Advocate
from plugin.sweeper import sweep
from plugin.tenants.service import saleor_client
from tests.flows import (
    coupons_for,
    friend_order,
    live_codes,
    new_advocate,
    referral_for,
    set_program,
    tenant_id,
)
from tests.privacy.people import FIONA, FIONA_NORMALISED, build_history, cells_mentioning, totals


def _erase(served, email=FIONA):
    tid = tenant_id()

    def client():
        with session_scope() as session:
            from plugin.tenants.models import Tenant

            return saleor_client(session.get(Tenant, tid))

    return service.erase(tid, email, secret=served.secret, saleor=client, actor="merchant:dpo@example.com")


def test_erase_leaves_no_trace_and_analytics_totals_stay_right(served, smtp):
    saleor = served.saleor
    history = build_history(saleor)
    # A merchant's free-text review note that mentions her (notes are stored in the ledger).
    from plugin.admin.review import decide

    (result,) = decide(
        tenant_id(),
        [referral_for(history.hank_order["id"]).id],
        "approve",
        actor="merchant:owner@example.com",
        note="Checked with FIONA.FRIEND+promo@gmail.com by phone",
    )
    assert result["ok"], result
    smtp.wait_for(1)
    needles = (FIONA, FIONA_NORMALISED, "fiona.friend")
    assert len(cells_mentioning(*needles)) > 10  # she is all over the place before
    before = totals()

    report = _erase(served)

    assert cells_mentioning(*needles) == []
    assert cells_mentioning("Fiona") == []  # her name went with her address
    assert report.complete and report.pseudonym == pseudonym(FIONA_NORMALISED, served.secret)
    assert (report.advocates, report.orders, report.friend_claims) == (1, 2, 1)
    # Her welcome code and her two thank-you codes (Gina, Hank); the review note was swept too.
    assert report.codes_deleted == 3 and report.other_values == 1

    after = totals()
    assert after["raw"] == before["raw"]
    for key in ("referrals", "new_customers", "revenue", "net_revenue", "friend_discounts"):
        assert after["report"][key] == before["report"][key], key
    # The one intended change: Fiona's two unused 10 USD thank-you rewards were taken back.
    assert float(before["report"]["reward_cost"]) - float(after["report"]["reward_cost"]) == 20.0
    keep = (
        "widget_views",
        "shares",
        "clicks",
        "claims",
        "referred_orders",
        "paid_referrals",
        "referrals_by_state",
        "rewards_issued",
        "rewards_used",
    )
    assert [{k: f[k] for k in keep} for f in after["funnel"]] == [{k: f[k] for k in keep} for f in before["funnel"]]

    # Her unused codes are gone from Saleor; everybody else's stay.
    codes = history.codes
    known = saleor.voucher_codes()
    assert codes["fiona:friend_reward"] not in known and codes["gina:referrer_reward"] not in known
    assert live_codes(saleor, [codes["fiona:referrer_reward"], codes["gina:friend_reward"]]) == {
        codes["fiona:referrer_reward"],
        codes["gina:friend_reward"],
    }
    assert codes["fiona_offer"] in known  # spent on her order: Saleor's history, nothing to recall

    # The referrals themselves keep their state (the orders happened).
    assert referral_for(history.fiona_order["id"]).state == "issued"
    assert referral_for(history.gina_order["id"]).state == "issued"
    assert referral_for(history.hank_order["id"]).state == "issued"  # approved by the merchant above
    with session_scope() as session:
        fiona = session.scalar(select(Advocate).where(Advocate.code == history.fiona_code))
        assert fiona.erased_at is not None and is_pseudonym(fiona.email) and fiona.first_name == ""
        assert (
            session.scalar(
                select(OutboundEmail).where(
                    OutboundEmail.status == OutboundEmail.PENDING, OutboundEmail.to_email == fiona.email
                )
            )
            is None
        )


def test_erasure_is_idempotent_and_unknown_emails_are_fine(served):
    build_history(served.saleor)
    first = _erase(served)
    again = _erase(served)
    assert again.pseudonym == first.pseudonym
    assert again.codes_deleted == again.codes_cancelled == 0 and again.complete
    nobody = _erase(served, "nobody@example.com")
    assert (nobody.advocates, nobody.orders, nobody.coupons, nobody.emails) == (0, 0, 0, 0)


def test_reward_reserved_after_the_erasure_is_cancelled_not_sent(served, smtp):
    saleor = served.saleor
    set_program(hold_days=5)
    code = new_advocate(saleor, FIONA, "Fiona")
    order = friend_order(saleor, "gina@example.com", code=code)
    referral = referral_for(order["id"])
    assert referral.state == "held" and referral.hold_until is not None
    _erase(served)
    sent_before = len(smtp.messages)

    with time_machine.travel(referral.hold_until + timedelta(minutes=1), tick=True):
        sweep()
    coupons = {c.purpose: c for c in coupons_for(order["id"])}
    assert coupons[Coupon.REFERRER_REWARD].state == Coupon.CANCELLED  # never created for the erased advocate
    assert coupons[Coupon.REFERRER_REWARD].code not in saleor.voucher_codes()
    assert coupons[Coupon.FRIEND_REWARD].state == Coupon.ISSUED  # Gina still gets hers
    assert live_codes(saleor, [coupons[Coupon.FRIEND_REWARD].code]) == {coupons[Coupon.FRIEND_REWARD].code}
    assert referral_for(order["id"]).state == "issued"
    messages = smtp.wait_for(sent_before + 1)
    assert [m["To"] for m in messages[sent_before:]] == ["gina@example.com"]


def test_saleor_down_during_erasure_is_reported_and_a_rerun_finishes(served):
    saleor = served.saleor
    history = build_history(saleor)
    saleor.faults.fail_next(50, status=503)
    report = _erase(served)
    assert not report.complete and report.saleor_errors
    assert cells_mentioning(FIONA, FIONA_NORMALISED) == []  # the data is gone even so
    assert history.codes["fiona:friend_reward"] in saleor.voucher_codes()
    saleor.faults.reset()
    rerun = _erase(served)
    assert rerun.complete and rerun.codes_deleted == 2
    assert history.codes["fiona:friend_reward"] not in saleor.voucher_codes()
