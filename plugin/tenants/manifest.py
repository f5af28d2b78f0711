"""`manifest.json` at the repository root is the source; this resolves it for one APP_URL."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from plugin import __version__

ROOT = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=None)
def _template() -> str:
    return (ROOT / "manifest.json").read_text()


def build_manifest(app_url: str) -> dict:
    raw = _template().replace("{APP_URL}", app_url.rstrip("/")).replace("{VERSION}", __version__)
    manifest = json.loads(raw)
    for webhook in manifest["webhooks"]:
        if webhook["query"].startswith("@"):
            webhook["query"] = (ROOT / webhook["query"][1:]).read_text()
    return manifest
