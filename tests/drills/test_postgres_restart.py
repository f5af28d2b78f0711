"""The database restarts mid-burst (the system PostgreSQL: this disturbs everything else on the
machine, so it is a long drill only). A delivery is acknowledged only once stored; one that
arrives while PostgreSQL is down gets a 5xx, and Saleor delivers it again later. Nothing
acknowledged is lost."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.drills.conftest import assert_nothing_lost_or_doubled


def cluster_version() -> str | None:
    versions = (
        sorted(p.name for p in Path("/etc/postgresql").glob("*") if (p / "main").is_dir())
        if Path("/etc/postgresql").is_dir()
        else []
    )
    return versions[-1] if versions and shutil.which("pg_ctlcluster") else None


@pytest.mark.longdrill
@pytest.mark.timeout(3600)
def test_postgres_restarted_mid_burst(drill):
    version = cluster_version()
    if version is None:
        pytest.skip("no Debian PostgreSQL cluster to restart (pg_ctlcluster, /etc/postgresql/<v>/main)")
    drill.start_worker(concurrency=4)
    codes = drill.make_advocates(5)
    orders = 150
    burst = threading.Thread(target=drill.referred_orders, args=(codes, orders), kwargs={"rate": 3, "in_flight": 20})
    burst.start()
    time.sleep(10)
    attempts_before = len(drill.saleor.attempts)
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    restart_seconds = round(time.monotonic() - started, 1)
    burst.join()
    refused = [a for _d, a in drill.saleor.attempts[attempts_before:] if not a.ok]
    drill.injected = {
        "orders": orders,
        "order rate per s": 3,
        "postgresql restart s": restart_seconds,
        "delivery attempts refused (5xx/errors), later re-sent": len(refused),
    }
    account = drill.wait_for_everything(900)
    drill.report(account, refused_statuses=sorted({str(a.status_code or a.error) for a in refused})[:10])
    assert set(drill.statuses) == {"200"}, f"every delivery was finally acknowledged: {drill.statuses}"
    assert_nothing_lost_or_doubled(drill, account)
    # E-mail is at least once: a crash after the SMTP server accepted a message but before the row
    # was marked sent repeats that message, with the same Message-ID, so mail clients show it once
    # (checked in assert_nothing_lost_or_doubled; RELIABILITY.md, F10). Codes are never repeated.
    assert account.emails_duplicated <= 4, "at most the sends in flight (4 worker processes) when PostgreSQL went away"
