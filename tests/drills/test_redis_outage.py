"""The broker goes away: the private redis-server is stopped for 30 s in the middle of a burst
(it keeps nothing on disk, so queued tasks die with it). Webhooks are stored in PostgreSQL
before they are acknowledged, and the sweeper re-drives them once Redis is back."""

from __future__ import annotations

import threading
import time

import pytest

from tests.drills.conftest import assert_nothing_lost_or_doubled


@pytest.mark.longdrill
@pytest.mark.timeout(3600)
def test_redis_stopped_for_30_seconds_mid_burst(drill):
    drill.start_worker(concurrency=4)
    codes = drill.make_advocates(5)
    orders = 150
    burst = threading.Thread(target=drill.referred_orders, args=(codes, orders), kwargs={"rate": 3, "in_flight": 20})
    burst.start()
    time.sleep(10)
    drill.redis.stop()
    down_at = time.monotonic()
    time.sleep(30)
    drill.redis.start()
    drill.injected = {
        "orders": orders,
        "order rate per s": 3,
        "redis down s": round(time.monotonic() - down_at, 1),
        "redis persistence": "none (queued tasks lost)",
    }
    burst.join()
    account = drill.wait_for_everything(900)
    drill.report(account)
    assert set(drill.statuses) == {"200"}, f"deliveries are acknowledged while Redis is down: {drill.statuses}"
    assert_nothing_lost_or_doubled(drill, account)
    assert account.emails_duplicated == 0, account
