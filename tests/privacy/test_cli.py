"""`referrals export` / `referrals erase` from a shell, as an operator would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.privacy.people import FIONA, FIONA_NORMALISED, build_history, cells_mentioning

ROOT = Path(__file__).resolve().parents[2]


def _cli(served, tmp_path, *args):
    env = {
        **os.environ,
        "DATABASE_URL": served.app.config["SETTINGS"].database_url,
        "SECRET_KEY": served.secret,
        "DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": "",
        "SALEOR_ALLOW_LOOPBACK": "1",
    }  # the emulated Saleor is on loopback
    return subprocess.run(
        [sys.executable, "-m", "plugin.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_export_then_erase(served, tmp_path):
    history = build_history(served.saleor)
    api_url = served.saleor.api_url

    exported = _cli(served, tmp_path, "export", FIONA, "--shop", api_url)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["normalized_email"] == FIONA_NORMALISED and data["advocate"][0]["code"] == history.fiona_code

    erased = _cli(served, tmp_path, "erase", FIONA, "--shop", api_url)
    assert erased.returncode == 0, erased.stderr
    report = json.loads(erased.stdout)
    assert report["complete"] is True and report["codes_deleted"] == 2
    assert cells_mentioning(FIONA, FIONA_NORMALISED) == []
    assert history.codes["fiona:friend_reward"] not in served.saleor.voucher_codes()


def test_cli_refuses_unknown_shop_and_bad_email(served, tmp_path):
    unknown = _cli(served, tmp_path, "erase", FIONA, "--shop", "https://elsewhere.example.com/graphql/")
    assert unknown.returncode == 2 and "no shop" in unknown.stderr and unknown.stdout == ""
    bad = _cli(served, tmp_path, "export", "not-an-email", "--shop", served.saleor.api_url)
    assert bad.returncode == 2 and "not an e-mail" in bad.stderr
    missing = _cli(served, tmp_path, "erase", FIONA)
    assert missing.returncode == 2 and "--shop" in missing.stderr
