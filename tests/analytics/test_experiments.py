"""A/B tests of the offer: sticky assignment, honest statistics, and a holdout that really gets nothing."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from plugin.analytics.experiments import prob_b_beats_a, z_test_p_value
from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.mail.models import OutboundEmail
from plugin.program.experiments import HOLDOUT, assign_variant
from plugin.program.settings import DEFAULTS, Program, deep_merge, load_program
from plugin.referrals.models import Advocate, Referral
from tests.admin.helpers import Admin, add_tenant
from tests.analytics import seed
from tests.flows import advocate_code, coupons_for, referral_for, referred_order

AB = {
    "enabled": True,
    "holdout_percent": 10,
    "variants": [
        {"name": "control", "weight": 1},
        {"name": "generous", "weight": 3, "referrer": {"type": "FIXED", "value": "25"}},
    ],
}


def test_assignment_is_sticky_and_follows_the_weights():
    program = Program(deep_merge(DEFAULTS, {"ab_test": AB}))
    keys = [f"CODE{i:05d}" for i in range(20000)]
    first = [assign_variant(program, k) for k in keys]
    assert first == [assign_variant(Program(deep_merge(DEFAULTS, {"ab_test": AB})), k) for k in keys]
    shares = {name: count / len(keys) for name, count in Counter(first).items()}
    assert shares[HOLDOUT] == pytest.approx(0.10, abs=0.01)
    assert shares["control"] == pytest.approx(0.90 * 0.25, abs=0.015)
    assert shares["generous"] == pytest.approx(0.90 * 0.75, abs=0.015)


def test_no_test_no_variant():
    assert assign_variant(Program(deep_merge(DEFAULTS, {})), "CODE1") is None


def test_z_test_and_bayes_agree_with_independent_computations():
    # Two-proportion z-test, 10/100 vs 15/100: z = 1.0690, two-sided p = 0.2851.
    assert z_test_p_value(10, 100, 15, 100) == pytest.approx(0.2851, abs=1e-3)
    assert z_test_p_value(100, 1000, 100, 1000) == pytest.approx(1.0)
    assert z_test_p_value(0, 0, 1, 10) is None
    rng = random.Random(7)
    draws = 100_000
    simulated = sum(rng.betavariate(16, 86) > rng.betavariate(11, 91) for _ in range(draws)) / draws
    assert prob_b_beats_a(10, 100, 15, 100) == pytest.approx(simulated, abs=0.01)
    assert prob_b_beats_a(15, 100, 10, 100) == pytest.approx(1 - simulated, abs=0.01)
    # Large counts take the normal approximation and stay sensible.
    assert 0.95 < prob_b_beats_a(6000, 100_000, 6200, 100_000) < 0.99


def test_results_per_variant_with_significance_and_holdout_uplift(app, client, saleor):
    saleor_app = saleor.create_app("saleor.app.referrals")
    tenant_id = add_tenant(app, saleor, saleor_app)
    admin = Admin(client, saleor, saleor_app)
    assert admin.put("/api/admin/settings", {"ab_test": AB}).status_code == 200
    with session_scope(tenant_id) as s:
        for variant, advocates, converters, sharers in (
            ("control", 200, 20, 60),
            ("generous", 200, 40, 90),
            (HOLDOUT, 50, 1, 0),
        ):
            for i in range(advocates):
                adv = seed.advocate(s, tenant_id, f"{variant}{i}@example.com", variant=variant)
                if i < sharers:
                    seed.events(s, tenant_id, "share", 1, advocate_id=adv.id, share_channel="copy")
                if i < converters:
                    state = Referral.REJECTED if variant == HOLDOUT else Referral.ISSUED
                    ref = seed.referral(
                        s, tenant_id, adv, seed.order(s, tenant_id, f"f-{variant}{i}@example.com", "50.00"), state
                    )
                    if variant != HOLDOUT:
                        seed.coupon(
                            s,
                            tenant_id,
                            Coupon.REFERRER_REWARD,
                            "FIXED",
                            "25" if variant == "generous" else "10",
                            Coupon.ISSUED,
                            ref=ref,
                            adv=adv,
                        )

    today = date.today()
    report = admin.get(
        "/api/admin/experiments",
        query_string={"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()},
    ).get_json()
    (block,) = report["results"]
    arms = {a["variant"]: a for a in block["arms"]}
    assert [a["variant"] for a in block["arms"]] == ["control", "generous", HOLDOUT]
    assert block["control"] == "control" and block["currency"] == "USD"
    control, generous, holdout = arms["control"], arms["generous"], arms[HOLDOUT]
    assert (control["advocates"], control["conversion"], control["share_rate"]) == (200, 0.1, 0.3)
    assert (generous["conversion"], generous["share_rate"]) == (0.2, 0.45)
    assert (generous["revenue"], generous["reward_cost"]) == ("2000.00", "1000.00")
    assert control["reward_cost"] == "200.00"
    assert generous["vs_control"]["p_value"] == pytest.approx(z_test_p_value(20, 200, 40, 200), abs=1e-4)
    assert generous["vs_control"]["p_value"] < 0.01
    assert generous["vs_control"]["prob_to_beat_control"] > 0.99
    assert generous["vs_control"]["conversion_lift"] == pytest.approx(1.0)
    assert "vs_control" not in control
    assert holdout["conversion"] == 0.02  # a holdout advocate's friend still came, without any offer
    assert generous["uplift_vs_holdout"]["conversion"] == pytest.approx(0.18)
    assert generous["uplift_vs_holdout"]["revenue_per_advocate"] == "9.00"  # 10.00 − 1.00 per advocate


@pytest.fixture
def live_shop(shop):
    admin = Admin(shop.flask_app.test_client(), shop.saleor, shop.app)
    test = {
        "enabled": True,
        "holdout_percent": 50,
        "variants": [
            {"name": "control", "weight": 1},
            {"name": "generous", "weight": 1, "referrer": {"type": "FIXED", "value": "25"}},
        ],
    }
    assert admin.put("/api/admin/settings", {"ab_test": test}).status_code == 200
    return admin


def _advocates_until_both_kinds(saleor, limit=40):
    """Paid first orders until we have a holdout advocate and an advocate with an offer."""
    found = {}
    for i in range(limit):
        email = f"buyer{i}@example.com"
        order = saleor.create_order(email, first_name=f"Buyer{i}", paid=True)
        saleor.checkout_complete(order)
        with session_scope() as session:
            advocate = session.scalar(select(Advocate).where(Advocate.code == advocate_code(email)))
        found.setdefault("holdout" if advocate.variant == HOLDOUT else "offer", advocate)
        if len(found) == 2:
            return found["holdout"], found["offer"]
    pytest.fail("no mix of holdout and offer advocates after 40 (probability 2^-39)")


def test_holdout_gets_no_offer_and_no_reward(live_shop, smtp):
    saleor = live_shop.saleor
    holdout, offered = _advocates_until_both_kinds(saleor)

    with session_scope() as session:
        program = load_program(session, holdout.tenant_id)
        invites = {e.to_email for e in session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "invite"))}
    for advocate in (holdout, offered):
        assert advocate.variant == assign_variant(program, advocate.code)  # sticky: recomputes the same
    assert holdout.contact_email not in invites
    assert offered.contact_email in invites

    holdout_order = referred_order(saleor, holdout.code, email="hfriend@example.com")
    referral = referral_for(holdout_order["id"])
    assert referral.state == Referral.REJECTED and "holdout" in referral.variant
    assert coupons_for(holdout_order["id"]) == []

    offered_order = referred_order(saleor, offered.code, email="ofriend@example.com")
    reward = next(c for c in coupons_for(offered_order["id"]) if c.purpose == Coupon.REFERRER_REWARD)
    expected = Decimal("25") if offered.variant == "generous" else Decimal("10")
    assert reward.value == expected and reward.state == Coupon.ISSUED

    smtp.wait_for(3)
    recipients = [m["To"] for m in smtp.messages]
    assert holdout.contact_email not in recipients  # no invite, no reward e-mail
    with session_scope() as session:
        to_friend = session.scalars(
            select(OutboundEmail.kind).where(OutboundEmail.to_email == "hfriend@example.com")
        ).all()
    assert Coupon.FRIEND_REWARD not in to_friend  # (the friend may get their own advocate invite)
