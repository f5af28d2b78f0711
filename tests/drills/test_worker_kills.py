"""Workers die mid-task: one of two Celery workers is SIGKILLed every 5 seconds (and a fresh
one started) while referred orders keep arriving. Tasks ack late and are idempotent, and the
sweeper re-drives whatever a dead worker held, so nothing is lost and nothing is issued twice."""

from __future__ import annotations

import threading
import time

import pytest

from tests.drills.conftest import assert_nothing_lost_or_doubled

KILL_EVERY = 5  # seconds; each of the two workers lives about 10 s (a cold worker needs 2-4 s to start)


@pytest.mark.longdrill
@pytest.mark.timeout(3600)
def test_a_worker_killed_every_5_seconds_during_a_burst(drill):
    live = [drill.start_worker(concurrency=2), drill.start_worker(concurrency=2)]
    codes = drill.make_advocates(10)
    drill.saleor.faults.latency = 0.05  # every Saleor call takes 50 ms, so kills land mid-task
    kills = []
    stop = threading.Event()

    def killer():
        victim = 0
        while not stop.wait(KILL_EVERY):
            live[victim].kill()
            kills.append(time.monotonic())
            live[victim] = drill.start_worker(concurrency=2)
            victim = 1 - victim

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    orders = 200
    drill.referred_orders(codes, orders, rate=4, in_flight=20)
    time.sleep(15)  # keep killing while the backlog drains
    stop.set()
    thread.join()
    drill.injected = {
        "orders": orders,
        "order rate per s": 4,
        "workers SIGKILLed": len(kills),
        "kill interval s": KILL_EVERY,
        "Saleor latency s": 0.05,
    }
    account = drill.wait_for_everything(900)
    drill.report(account)
    assert_nothing_lost_or_doubled(drill, account)
    # E-mail is at least once: a crash after the SMTP server accepted a message but before the row
    # was marked sent repeats that message, with the same Message-ID, so mail clients show it once
    # (checked in assert_nothing_lost_or_doubled; RELIABILITY.md, F10). Codes are never repeated.
    assert account.emails_duplicated <= 2 * len(kills), "at most the sends in flight in each killed worker"
