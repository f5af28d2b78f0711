"""The economics of a known scenario: every number the merchant sees, worked out by hand."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from plugin.analytics.models import FunnelEvent as E
from plugin.coupons.models import Coupon as C
from plugin.db import session_scope
from plugin.referrals.models import Referral as R
from tests.admin.helpers import Admin, add_tenant
from tests.analytics import seed

TODAY = date.today()
RANGE = {"from": (TODAY - timedelta(days=6)).isoformat(), "to": TODAY.isoformat()}


@pytest.fixture
def seeded(app, client, saleor):
    saleor_app = saleor.create_app("saleor.app.referrals")
    tenant_id = add_tenant(app, saleor, saleor_app)
    with session_scope(tenant_id) as s:
        _scenario(s, tenant_id)
    return Admin(client, saleor, saleor_app)


def _scenario(s, t):
    # Top of the funnel in USD: 100 views, 20 shares (12 WhatsApp, 5 e-mail, 3 copy), 40 clicks, 10 claims.
    seed.events(s, t, E.WIDGET_VIEW, 100)
    seed.events(s, t, E.SHARE, 12, share_channel="whatsapp")
    seed.events(s, t, E.SHARE, 5, share_channel="email")
    seed.events(s, t, E.SHARE, 3, share_channel="copy")
    seed.events(s, t, E.CLICK, 40)
    seed.events(s, t, E.CLAIM, 10)
    seed.events(s, t, E.CLICK, 5, at=seed.days_ago(40))  # before the range: not counted
    seed.events(s, t, E.CLICK, 10, channel="channel-pln")

    anna = seed.advocate(s, t, "anna@example.com")
    ben = seed.advocate(s, t, "ben@example.com")

    # R1: 50.00, both rewards issued; the friend's 10 % reward was used (4.00 off);
    #     the friend's welcome code (10 %) took 5.56 off this very order.
    offer = seed.coupon(s, t, C.FRIEND_OFFER, "PERCENTAGE", "10", C.USED, redeemed="5.56", code="FRIEND-R1")
    o1 = seed.order(s, t, "f1@example.com", "50.00", voucher_code=offer.code)
    r1 = seed.referral(s, t, anna, o1, R.ISSUED)
    seed.coupon(s, t, C.REFERRER_REWARD, "FIXED", "10", C.ISSUED, ref=r1, adv=anna)
    seed.coupon(s, t, C.FRIEND_REWARD, "PERCENTAGE", "10", C.USED, ref=r1, redeemed="4.00")
    # R2: 80.00 with 20.00 refunded later; advocate's 10 used, friend's 5 issued.
    o2 = seed.order(s, t, "f2@example.com", "80.00", refunded="20.00", referral_code=anna.code)
    r2 = seed.referral(s, t, anna, o2, R.ISSUED)
    seed.coupon(s, t, C.REFERRER_REWARD, "FIXED", "10", C.USED, ref=r2, adv=anna, redeemed="10")
    seed.coupon(s, t, C.FRIEND_REWARD, "FIXED", "5", C.ISSUED, ref=r2)
    # R3: 30.00, fully refunded: revoked; the advocate's reward was taken back, the friend's never created.
    o3 = seed.order(s, t, "f3@example.com", "30.00", refunded="30.00", referral_code=ben.code)
    r3 = seed.referral(s, t, ben, o3, R.REVOKED)
    seed.coupon(s, t, C.REFERRER_REWARD, "FIXED", "10", C.REVOKED, ref=r3, adv=ben)
    seed.coupon(s, t, C.FRIEND_REWARD, "FIXED", "5", C.CANCELLED, ref=r3, issued=False)
    # R4: 100.00 blocked by a fraud rule. R5: 60.00 held for review.
    seed.referral(
        s, t, ben, seed.order(s, t, "f4@example.com", "100.00", referral_code=ben.code), R.REJECTED, decision="block"
    )
    seed.referral(
        s, t, ben, seed.order(s, t, "f5@example.com", "60.00", referral_code=ben.code), R.HELD, decision="hold"
    )
    # An order with a code that was not attributed (self-referral) still arrived as a referred order.
    seed.order(s, t, "anna@example.com", "20.00", referral_code=anna.code, attributed=False)
    # Outside the range: an old referral.
    old = seed.order(s, t, "old@example.com", "999.00", referral_code=anna.code, created=seed.days_ago(40))
    seed.referral(s, t, anna, old, R.ISSUED)

    # PLN channel: one referral of 200.00 PLN, the advocate's 20 PLN reward issued.
    piotr = seed.advocate(s, t, "piotr@example.com", channel="channel-pln", currency="PLN")
    o6 = seed.order(s, t, "f6@example.com", "200.00", channel="channel-pln", currency="PLN", referral_code=piotr.code)
    r6 = seed.referral(s, t, piotr, o6, R.ISSUED)
    seed.coupon(
        s, t, C.REFERRER_REWARD, "FIXED", "20", C.ISSUED, ref=r6, adv=piotr, currency="PLN", channel="channel-pln"
    )


def _group(report, channel):
    (group,) = [g for g in report["groups"] if g["channel"] == channel]
    return group


def test_funnel_and_money_per_channel(seeded):
    response = seeded.get("/api/admin/stats", query_string=RANGE)
    assert response.status_code == 200, response.data
    report = response.get_json()
    usd = _group(report, "default-channel")
    assert usd["currency"] == "USD" and usd["channel_name"] == "Default Channel"
    f = usd["funnel"]
    assert (f["widget_views"], f["shares"], f["clicks"], f["claims"]) == (100, 20, 40, 10)
    assert f["shares_by_channel"] == {"whatsapp": 12, "email": 5, "copy": 3}
    assert f["referred_orders"] == 6  # five attributed + the self-referral attempt
    assert f["paid_referrals"] == 5
    assert f["referrals_by_state"] == {"issued": 2, "revoked": 1, "rejected": 1, "held": 1}
    assert (f["rewards_issued"], f["rewards_used"], f["rewards_revoked"]) == (5, 2, 1)

    m = usd["money"]
    assert m["revenue"] == "190.00"  # 50 + 80 + 60 (held still stands); revoked/rejected do not count
    assert m["refunded"] == "20.00"
    assert m["net_revenue"] == "170.00"
    assert m["reward_face_value"] == "25.00"  # FIXED rewards live: 10 + 10 + 5 (the revoked 10 was taken back)
    assert m["reward_percent_redeemed"] == "4.00"
    assert m["reward_cost"] == "29.00"
    assert m["reward_redeemed"] == "14.00"  # 4.00 + 10.00 spent by customers
    assert m["friend_discounts"] == "5.56"
    assert m["total_cost"] == "34.56"
    assert m["new_customers"] == 3
    assert m["cost_per_customer"] == "11.52"
    assert m["roi"] == pytest.approx((170 - 34.56) / 34.56, abs=1e-4)
    assert usd["rates"]["click_to_paid"] == pytest.approx(5 / 40)
    assert usd["rates"]["share_rate"] == pytest.approx(20 / 100)

    pln = _group(report, "channel-pln")
    assert pln["currency"] == "PLN"
    assert pln["funnel"]["clicks"] == 10
    assert (pln["money"]["revenue"], pln["money"]["total_cost"], pln["money"]["roi"]) == ("200.00", "20.00", 9.0)

    # Never summed across currencies: one total per currency.
    totals = {t["currency"]: t for t in report["totals_by_currency"]}
    assert set(totals) == {"USD", "PLN"}
    assert totals["USD"]["net_revenue"] == "170.00" and totals["PLN"]["net_revenue"] == "200.00"


def test_daily_series_adds_up(seeded):
    report = seeded.get("/api/admin/stats", query_string=RANGE).get_json()
    usd = _group(report, "default-channel")
    assert len(usd["daily"]) == 7
    assert sum(d["clicks"] for d in usd["daily"]) == 40
    assert sum(d["referrals"] for d in usd["daily"]) == 3
    assert sum(float(d["revenue"]) for d in usd["daily"]) == pytest.approx(170.0)


def test_channel_filter(seeded):
    report = seeded.get("/api/admin/stats", query_string={**RANGE, "channel": "channel-pln"}).get_json()
    assert [g["channel"] for g in report["groups"]] == ["channel-pln"]


def test_range_reaching_back_includes_the_old_referral(seeded):
    wide = {"from": (TODAY - timedelta(days=60)).isoformat(), "to": TODAY.isoformat()}
    usd = _group(seeded.get("/api/admin/stats", query_string=wide).get_json(), "default-channel")
    assert usd["money"]["revenue"] == "1189.00"
    assert usd["funnel"]["clicks"] == 45


def test_csv_matches_the_api(seeded):
    report = seeded.get("/api/admin/stats", query_string=RANGE).get_json()
    response = seeded.get("/api/admin/stats.csv", query_string=RANGE)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = {r["channel"]: r for r in csv.DictReader(io.StringIO(response.data.decode()))}
    assert set(rows) == {"default-channel", "channel-pln"}
    for group in report["groups"]:
        row = rows[group["channel"]]
        assert row["currency"] == group["currency"]
        assert row["link_clicks"] == str(group["funnel"]["clicks"])
        assert row["paid_referrals"] == str(group["funnel"]["paid_referrals"])
        for key in ("revenue", "net_revenue", "reward_cost", "friend_discounts", "total_cost", "cost_per_customer"):
            assert row[key] == group["money"][key], key
        assert float(row["roi"]) == group["money"]["roi"]


def test_daily_csv_matches_the_api(seeded):
    report = seeded.get("/api/admin/stats", query_string=RANGE).get_json()
    rows = list(
        csv.DictReader(
            io.StringIO(seeded.get("/api/admin/stats.csv", query_string={**RANGE, "table": "daily"}).data.decode())
        )
    )
    usd_rows = [r for r in rows if r["channel"] == "default-channel"]
    assert [r["revenue"] for r in usd_rows] == [d["revenue"] for d in _group(report, "default-channel")["daily"]]


def test_top_advocates(seeded):
    data = seeded.get("/api/admin/advocates", query_string=RANGE).get_json()
    by_email = {a["email"]: a for a in data["items"]}
    anna, ben = by_email["anna@example.com"], by_email["ben@example.com"]
    assert (anna["friends"], anna["revenue"], anna["rewards"], anna["reward_value"]) == (2, "130.00", 2, "20.00")
    assert (ben["friends"], ben["not_counted"], ben["revenue"]) == (1, 2, "60.00")
    assert data["items"][0]["email"] == "anna@example.com"  # most friends first
    advocates_csv = seeded.get("/api/admin/stats.csv", query_string={**RANGE, "table": "advocates"}).data.decode()
    assert "anna@example.com" in advocates_csv and "130.00" in advocates_csv


def test_charts_are_svg_with_the_numbers(seeded):
    report = seeded.get("/api/admin/stats", query_string={**RANGE, "charts": "1"}).get_json()
    charts = _group(report, "default-channel")["charts"]
    assert charts["funnel"].startswith("<svg")
    assert ">Link clicks</text>" in charts["funnel"] and ">40  (200% of previous)</text>" in charts["funnel"]
    assert "whatsapp" in charts["shares"]
    assert "<script" not in "".join(charts.values())


@pytest.mark.parametrize(
    "query, field",
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "from"),
        ({"from": "2010-01-01", "to": "2026-01-01"}, "from"),
    ],
)
def test_bad_ranges_are_400(seeded, query, field):
    response = seeded.get("/api/admin/stats", query_string=query)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]


def test_closed_days_are_counted_once_and_today_stays_live(seeded):
    from sqlalchemy import func, select

    from plugin.analytics.models import FunnelDaily

    first = _group(seeded.get("/api/admin/stats", query_string=RANGE).get_json(), "default-channel")
    with session_scope() as session:
        stored = session.scalar(select(func.count(FunnelDaily.id)))
        tenant_id = session.scalar(select(FunnelDaily.tenant_id).limit(1))
    assert stored > 0  # the closed day of the scenario (two days ago) was rolled up
    with session_scope(tenant_id) as session:
        seed.events(session, tenant_id, E.CLICK, 3, at=seed.days_ago(0))  # today: an open day
    second = _group(seeded.get("/api/admin/stats", query_string=RANGE).get_json(), "default-channel")
    assert second["funnel"]["clicks"] == first["funnel"]["clicks"] + 3
    with session_scope() as session:
        assert session.scalar(select(func.count(FunnelDaily.id))) == stored  # nothing counted twice


def test_unsubscribes_of_the_range_show_in_the_report_and_the_csv(seeded):
    from sqlalchemy import select

    from plugin.mail.models import EmailSuppression
    from plugin.tenants.models import Tenant

    with session_scope() as s:
        tenant_id = s.scalar(select(Tenant.id))
    with session_scope(tenant_id) as s:
        s.add(EmailSuppression(tenant_id=tenant_id, email="gone@example.com", source="one_click"))
        s.add(EmailSuppression(tenant_id=tenant_id, email="left@example.com", source="link"))
        s.add(
            EmailSuppression(tenant_id=tenant_id, email="old@example.com", source="link", created_at=seed.days_ago(40))
        )
    report = seeded.get("/api/admin/stats", query_string=RANGE).get_json()
    assert report["unsubscribes"] == 2
    rows = list(csv.DictReader(io.StringIO(seeded.get("/api/admin/stats.csv", query_string=RANGE).data.decode())))
    assert rows and {r["unsubscribes"] for r in rows} == {"2"}
