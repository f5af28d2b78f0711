"""Saleor misbehaves: 30 % of GraphQL calls fail, half of them with a 502 and half by hanging
past the app's timeout (the mutation still happens, the app does not hear about it). Every
referral must still get both codes, each created once in Saleor."""

from __future__ import annotations

import pytest

from tests.drills.conftest import assert_nothing_lost_or_doubled


def run_drill(drill, *, orders: int, advocates: int, timeout: float) -> None:
    drill.start_worker(concurrency=8)
    codes = drill.make_advocates(advocates)
    faults = drill.saleor.faults
    client_timeout = drill.server.app.config["SETTINGS"].saleor_timeout
    faults.reseed(30)
    faults.failure_rate, faults.failure_status = 0.15, 502
    faults.timeout_rate = 0.15 / 0.85  # drawn only when the call did not already fail: 15 % overall
    faults.timeout_seconds = client_timeout + 1
    calls_before = len(drill.saleor.requests)
    drill.referred_orders(codes, orders, in_flight=20)
    account = drill.wait_for_everything(timeout)
    calls = len(drill.saleor.requests) - calls_before
    drill.injected = {
        "orders": orders,
        "Saleor calls": calls,
        "answered 502": faults.counters["failed"],
        "hung past the client timeout": faults.counters["timed_out"],
        "client timeout s": client_timeout,
    }
    drill.report(
        account, fault_share=round((faults.counters["failed"] + faults.counters["timed_out"]) / max(calls, 1), 3)
    )
    faults.reset()
    assert_nothing_lost_or_doubled(drill, account)
    assert account.emails_duplicated == 0, account


@pytest.mark.drill
@pytest.mark.timeout(600)
def test_10_orders_while_saleor_fails_30_percent_of_calls(drill):
    run_drill(drill, orders=10, advocates=2, timeout=420)


@pytest.mark.longdrill
@pytest.mark.timeout(3600)
def test_100_orders_while_saleor_fails_30_percent_of_calls(drill):
    run_drill(drill, orders=100, advocates=10, timeout=1800)
