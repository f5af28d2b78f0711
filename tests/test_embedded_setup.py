"""The `make run` setup, started as a user would: SQLite, in-process tasks, file outbox."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port, wait_until


@pytest.fixture
def embedded_app(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SMTP_URL", "APP_URL", "SECRET_KEY", "MAIL_OUTBOX_DIR"}
    }
    env.update(
        {
            "PORT": str(port),
            "DATA_DIR": str(tmp_path / "var"),
            "SWEEP_INTERVAL": "1",
            "SWEEP_GRACE": "1",
            "PYTHONUNBUFFERED": "1",
            "SALEOR_ALLOW_LOOPBACK": "1",
        }
    )  # as `make run` sets it
    log = open(tmp_path / "app.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugin.cli", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    assert wait_until(up, timeout=30), (tmp_path / "app.log").read_text()
    yield url, tmp_path / "var"
    proc.terminate()
    proc.wait(10)
    log.close()


def outbox(var: Path) -> list:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted((var / "outbox").glob("*.eml"))
    ]


def test_make_run_defaults_work_end_to_end(embedded_app, saleor):
    url, var = embedded_app
    health = requests.get(f"{url}/healthz").json()
    assert health == {"ok": True, "database": "ok", "broker": "in-process"}
    manifest = requests.get(f"{url}/api/manifest").json()
    assert manifest["tokenTargetUrl"] == f"{url}/api/register"
    assert (var / "referrals.sqlite3").exists()

    assert saleor.install(f"{url}/api/manifest").response.status_code == 200
    alice = saleor.create_order("alice@example.com", first_name="Alice", paid=True)
    saleor.checkout_complete(alice)
    invite = wait_until(lambda: [m for m in outbox(var) if m["To"] == "alice@example.com"], timeout=20)
    assert invite, "the advocate's invitation lands in the file outbox"
    body = invite[0].get_body(preferencelist=("plain",)).get_content()
    code = body.split("/r/")[1].split("?")[0].split()[0]

    friend = saleor.create_order(
        "bob@example.com", first_name="Bob", total="30.00", metadata={"referral_code": code}, paid=True
    )
    saleor.checkout_complete(friend)
    reward_codes = wait_until(
        lambda: (
            [c for c in saleor.voucher_codes() if c.startswith(("THANKS-", "WELCOME-"))]
            if len([c for c in saleor.voucher_codes() if c.startswith(("THANKS-", "WELCOME-"))]) == 2
            else None
        ),
        timeout=20,
    )
    assert reward_codes

    def reward_mails():
        found = [
            m
            for m in outbox(var)
            if any(c in m.get_body(preferencelist=("plain",)).get_content() for c in reward_codes)
        ]
        return found if len(found) >= 2 else None

    mails = wait_until(reward_mails, timeout=20)
    assert mails and sorted(m["To"] for m in mails) == ["alice@example.com", "bob@example.com"]
