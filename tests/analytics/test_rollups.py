"""Roll-ups must never change a number the merchant sees.

Closed days of funnel events are folded once (FunnelDaily, AdvocateLastShare); events of
open days keep arriving and must still count. Money is never rolled up: refunds,
revocations and spent coupons change the numbers of a day long after it closed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from plugin.analytics import rollup
from plugin.analytics.models import AdvocateLastShare
from plugin.analytics.models import FunnelEvent as E
from plugin.coupons.models import Coupon as C
from plugin.db import session_scope
from plugin.referrals.models import Advocate, OrderRecord
from plugin.referrals.models import Referral as R
from tests.admin.helpers import Admin, add_tenant
from tests.analytics import seed

TODAY = date.today()


def _range(first_days_ago: int, last_days_ago: int = 0) -> dict:
    return {
        "from": (TODAY - timedelta(days=first_days_ago)).isoformat(),
        "to": (TODAY - timedelta(days=last_days_ago)).isoformat(),
    }


@pytest.fixture
def seeded(app, client, saleor):
    saleor_app = saleor.create_app("saleor.app.referrals")
    tenant_id = add_tenant(app, saleor, saleor_app)
    admin = Admin(client, saleor, saleor_app)
    admin.tenant_id = tenant_id
    return admin


def _arms(seeded, query) -> dict[str, dict]:
    response = seeded.get("/api/admin/experiments", query_string=query)
    assert response.status_code == 200, response.data
    return {arm["variant"]: arm for block in response.get_json()["results"] for arm in block["arms"]}


def _sharers_by_definition(tenant_id: int, query: dict) -> dict[str, tuple[int, int]]:
    """(advocates, sharers) per variant, straight from the rows: advocates who joined in the
    range and shared at any time since it began."""
    start = date.fromisoformat(query["from"])
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(date.fromisoformat(query["to"]) + timedelta(days=1), time.min, tzinfo=UTC)
    with session_scope(tenant_id) as session:
        advocates = session.execute(
            select(Advocate.id, Advocate.variant).where(
                Advocate.variant.is_not(None), Advocate.created_at >= since, Advocate.created_at < until
            )
        ).all()
        shared = set(session.scalars(select(E.advocate_id).where(E.kind == E.SHARE, E.at >= since)))
    out: dict[str, tuple[int, int]] = {}
    for advocate_id, variant in advocates:
        total, sharers = out.get(variant, (0, 0))
        out[variant] = (total + 1, sharers + (advocate_id in shared))
    return out


def _assert_sharers_match_definition(seeded, query):
    arms = _arms(seeded, query)
    expected = _sharers_by_definition(seeded.tenant_id, query)
    assert {v: (a["advocates"], a["sharers"]) for v, a in arms.items() if a["advocates"]} == expected
    return arms


def _share(session, tenant_id, advocate, days_ago: float):
    seed.events(
        session, tenant_id, E.SHARE, 1, advocate_id=advocate.id, share_channel="copy", at=seed.days_ago(days_ago)
    )


def test_sharers_from_the_rollup_match_the_events_as_days_close_and_new_shares_arrive(seeded):
    t = seeded.tenant_id
    with session_scope(t) as s:
        joined = seed.days_ago(20)
        a1 = seed.advocate(s, t, "a1@example.com", variant="control", created=joined)
        a2 = seed.advocate(s, t, "a2@example.com", variant="control", created=joined)
        a3 = seed.advocate(s, t, "a3@example.com", variant="generous", created=joined)
        a4 = seed.advocate(s, t, "a4@example.com", variant="generous", created=joined)
        a5 = seed.advocate(s, t, "a5@example.com", variant="control", created=joined)
        early = seed.advocate(s, t, "early@example.com", variant="generous", created=seed.days_ago(50))
        _share(s, t, a1, 10)
        _share(s, t, a2, 40)  # before a 30-day range: not a sharer there
        _share(s, t, a3, 10)
        _share(s, t, a3, 3)  # a later closed day: the last share moves forward
        _share(s, t, a5, 0)  # today: an open day, read live
        _share(s, t, early, 10)
    with session_scope(t) as s:
        rollup.fold_last_shares(s, t, today=TODAY - timedelta(days=5))  # as if the report ran five days ago

    arms = _assert_sharers_match_definition(seeded, _range(29))
    assert (arms["control"]["sharers"], arms["generous"]["sharers"]) == (2, 1)
    with session_scope(t) as s:
        last = dict(s.execute(select(AdvocateLastShare.advocate_id, AdvocateLastShare.day)).all())
    assert last[a3.id] == TODAY - timedelta(days=3)  # folded again today: the later day won
    assert a5.id not in last  # today's share is not rolled up (yet)

    _assert_sharers_match_definition(seeded, _range(60, 20))  # a range that ended: later shares still count

    with session_scope(t) as s:
        _share(s, t, a4, 1)  # yesterday: still an open day
        _share(s, t, a2, 0)
        newcomer = seed.advocate(s, t, "new@example.com", variant="control", created=seed.days_ago(0))
        _share(s, t, newcomer, 0)
    arms = _assert_sharers_match_definition(seeded, _range(29))
    assert (arms["control"]["sharers"], arms["generous"]["sharers"]) == (4, 2)
    _assert_sharers_match_definition(seeded, _range(1))  # starts inside the open days
    _assert_sharers_match_definition(seeded, _range(60))


def _stats_group(seeded, query) -> dict:
    response = seeded.get("/api/admin/stats", query_string=query)
    assert response.status_code == 200, response.data
    (group,) = [g for g in response.get_json()["groups"] if g["channel"] == "default-channel"]
    return group


def _anna(seeded, query) -> dict:
    items = seeded.get("/api/admin/advocates", query_string=query).get_json()["items"]
    return next(item for item in items if item["email"] == "anna@example.com")


def test_refunds_revocations_and_spent_coupons_after_the_day_closed_change_the_report(seeded):
    t = seeded.tenant_id
    ten_days_ago = seed.days_ago(10)
    with session_scope(t) as s:
        anna = seed.advocate(s, t, "anna@example.com", variant="control", created=seed.days_ago(12))
        first = seed.referral(
            s,
            t,
            anna,
            seed.order(s, t, "f1@example.com", "100.00", referral_code=anna.code, created=ten_days_ago),
            R.ISSUED,
        )
        second = seed.referral(
            s,
            t,
            anna,
            seed.order(s, t, "f2@example.com", "60.00", referral_code=anna.code, created=ten_days_ago),
            R.ISSUED,
        )
        advocate_reward = seed.coupon(s, t, C.REFERRER_REWARD, "FIXED", "10", C.ISSUED, ref=first, adv=anna)
        friend_reward = seed.coupon(s, t, C.FRIEND_REWARD, "PERCENTAGE", "10", C.ISSUED, ref=first)
    query = _range(29)
    closed_day = (TODAY - timedelta(days=10)).isoformat()

    def day_revenue(group):
        return next(d["revenue"] for d in group["daily"] if d["date"] == closed_day)

    group = _stats_group(seeded, query)
    assert (group["money"]["revenue"], group["money"]["net_revenue"], day_revenue(group)) == (
        "160.00",
        "160.00",
        "160.00",
    )
    assert (group["money"]["reward_face_value"], group["money"]["reward_cost"]) == ("10.00", "10.00")
    assert _arms(seeded, query)["control"]["revenue"] == "160.00"
    assert (_anna(seeded, query)["friends"], _anna(seeded, query)["revenue"]) == (2, "160.00")

    # A partial refund of the first order, ten days later.
    with session_scope(t) as s:
        s.get(OrderRecord, first.order_record_id).total_refunded = Decimal("25.00")
    group = _stats_group(seeded, query)
    assert (group["money"]["refunded"], group["money"]["net_revenue"], day_revenue(group)) == (
        "25.00",
        "135.00",
        "135.00",
    )

    # The friend spends the 10 % reward: 7.50 off.
    with session_scope(t) as s:
        coupon = s.get(C, friend_reward.id)
        coupon.state, coupon.redeemed_value = C.USED, Decimal("7.50")
    group = _stats_group(seeded, query)
    assert (group["money"]["reward_percent_redeemed"], group["money"]["reward_cost"]) == ("7.50", "17.50")
    assert group["funnel"]["rewards_used"] == 1
    assert _arms(seeded, query)["control"]["reward_cost"] == "17.50"

    # The second order is refunded in full: its referral is revoked and no longer counts.
    with session_scope(t) as s:
        s.get(OrderRecord, second.order_record_id).total_refunded = Decimal("60.00")
        s.get(R, second.id).state = R.REVOKED
    group = _stats_group(seeded, query)
    assert group["funnel"]["referrals_by_state"] == {"issued": 1, "revoked": 1}
    assert (group["money"]["revenue"], group["money"]["refunded"], group["money"]["net_revenue"]) == (
        "100.00",
        "25.00",
        "75.00",
    )
    assert (group["money"]["new_customers"], day_revenue(group)) == (1, "75.00")
    arm = _arms(seeded, query)["control"]
    assert (arm["referrals"], arm["revenue"]) == (1, "100.00")
    anna_row = _anna(seeded, query)
    assert (anna_row["friends"], anna_row["not_counted"], anna_row["revenue"]) == (1, 1, "100.00")

    # The advocate's unused reward is taken back.
    with session_scope(t) as s:
        s.get(C, advocate_reward.id).state = C.REVOKED
    group = _stats_group(seeded, query)
    assert (group["money"]["reward_face_value"], group["funnel"]["rewards_revoked"]) == ("0.00", 1)
    assert _arms(seeded, query)["control"]["reward_cost"] == "7.50"


def test_a_refund_never_counts_more_than_the_revenue_it_refunds(seeded):
    t = seeded.tenant_id
    with session_scope(t) as s:
        anna = seed.advocate(s, t, "anna@example.com")
        seed.referral(
            s,
            t,
            anna,
            seed.order(
                s, t, "f1@example.com", "40.00", refunded="55.00", referral_code=anna.code, created=seed.days_ago(5)
            ),
            R.ISSUED,
        )
        seed.referral(
            s,
            t,
            anna,
            seed.order(
                s, t, "f2@example.com", "30.00", refunded="30.00", referral_code=anna.code, created=seed.days_ago(5)
            ),
            R.REJECTED,
            decision="block",
        )
    money = _stats_group(seeded, _range(29))["money"]
    assert (money["revenue"], money["refunded"], money["net_revenue"]) == ("40.00", "40.00", "0.00")
