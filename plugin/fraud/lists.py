"""Shipped lists: disposable e-mail domains (one per line in disposable_domains.txt).

Update the list by replacing the file, or point DISPOSABLE_DOMAINS_FILE at your own.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

_DEFAULT = Path(__file__).with_name("disposable_domains.txt")


@lru_cache(maxsize=1)
def disposable_domains() -> frozenset[str]:
    path = Path(os.environ.get("DISPOSABLE_DOMAINS_FILE") or _DEFAULT)
    if not path.exists():
        return frozenset()
    return frozenset(
        line.strip().lower() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
