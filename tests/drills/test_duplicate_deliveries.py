"""Saleor delivers at least once: every delivery of every referred order arrives three times,
50 requests in flight at once, in shuffled order. Each order must come out as exactly one
referral with two codes, created once in Saleor and e-mailed once."""

from __future__ import annotations

import pytest

from tests.drills.conftest import assert_nothing_lost_or_doubled


def run_drill(drill, *, orders: int, advocates: int, timeout: float) -> None:
    if orders > 100:
        drill.sweep = {"SWEEP_INTERVAL": 30, "SWEEP_GRACE": 3600}  # the backlog is waiting, not lost (F8)
    drill.start_worker(concurrency=4)
    codes = drill.make_advocates(advocates)
    drill.injected = {"orders": orders, "events per order": 4, "copies of every delivery": 3, "in flight": 50}
    drill.referred_orders(codes, orders, copies=3, in_flight=50)
    account = drill.wait_for_everything(timeout)
    drill.report(account)
    assert set(drill.statuses) == {"200"}, f"every copy is acknowledged: {drill.statuses}"
    assert account.webhook_events_stored == 4 * orders, "each distinct delivery is stored once"
    assert_nothing_lost_or_doubled(drill, account)
    assert account.emails_duplicated == 0, account


@pytest.mark.drill
@pytest.mark.timeout(600)
def test_50_orders_each_delivered_three_times(drill):
    run_drill(drill, orders=50, advocates=5, timeout=300)


@pytest.mark.longdrill
@pytest.mark.timeout(7200)
def test_1000_orders_each_delivered_three_times(drill):
    run_drill(drill, orders=1000, advocates=20, timeout=5400)
