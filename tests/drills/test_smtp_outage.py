"""The mail server goes away: e-mails stay in the outbox, are retried with backoff
(MAIL_RETRY_BASE_SECONDS shortens it here) and re-driven by the sweeper; when the server is
back every one of them is delivered, once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from tests.conftest import wait_until
from tests.drills.conftest import assert_nothing_lost_or_doubled


def issued_coupons(drill) -> int:
    return drill.account().issued_coupons


def run_drill(drill, *, orders: int, outage: float, timeout: float) -> None:
    from plugin.db import session_scope
    from plugin.mail.models import OutboundEmail

    drill.start_worker(concurrency=4, MAIL_RETRY_BASE_SECONDS=1)
    codes = drill.make_advocates(3)
    wait_until(lambda: len(drill.smtp.messages) >= 3, timeout=60)  # the advocates' invitations
    drill.smtp.stop()
    down_at = time.monotonic()
    drill.referred_orders(codes, orders, in_flight=20)
    assert wait_until(lambda: issued_coupons(drill) == 2 * orders, timeout=timeout), drill.worker_logs()
    time.sleep(max(0.0, outage - (time.monotonic() - down_at)))
    drill.smtp.start()
    with session_scope() as session:
        failed_attempts = session.scalar(
            select(func.coalesce(func.sum(OutboundEmail.attempts - 1), 0)).where(
                OutboundEmail.kind.in_(["referrer_reward", "friend_reward"])
            )
        )
    drill.injected = {
        "orders": orders,
        "smtp down s": round(time.monotonic() - down_at, 1),
        "MAIL_RETRY_BASE_SECONDS": 1,
    }
    account = drill.wait_for_everything(timeout)
    drill.report(account, failed_send_attempts_during_outage=int(failed_attempts))
    assert failed_attempts > 0, "the outage was noticed (sends failed and were retried)"
    assert_nothing_lost_or_doubled(drill, account)
    assert account.emails_duplicated == 0, account


@pytest.mark.drill
@pytest.mark.timeout(600)
def test_smtp_down_for_15_seconds(drill):
    run_drill(drill, orders=10, outage=15, timeout=240)


@pytest.mark.longdrill
@pytest.mark.timeout(3600)
def test_smtp_down_for_a_minute(drill):
    run_drill(drill, orders=100, outage=60, timeout=900)
