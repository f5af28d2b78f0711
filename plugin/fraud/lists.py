"""Shipped lists: disposable e-mail domains and coupon/deal sites (one domain per line).

Update a list by editing its file (see docs/TRUST.md), or point DISPOSABLE_DOMAINS_FILE /
COUPON_SITES_FILE at your own file in the same format.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

_HERE = Path(__file__).parent


def _read(path: Path) -> frozenset[str]:
    if not path.exists():
        return frozenset()
    return frozenset(
        line.split("#", 1)[0].strip().lower()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.split("#", 1)[0].strip()
    )


@lru_cache(maxsize=1)
def disposable_domains() -> frozenset[str]:
    return _read(Path(os.environ.get("DISPOSABLE_DOMAINS_FILE") or _HERE / "disposable_domains.txt"))


@lru_cache(maxsize=1)
def coupon_site_domains() -> frozenset[str]:
    return _read(Path(os.environ.get("COUPON_SITES_FILE") or _HERE / "coupon_sites.txt"))


def domain_listed(domain: str | None, listed) -> bool:
    """True if `domain` or one of its parent domains is in `listed` (mail.yopmail.com → yopmail.com)."""
    domain = (domain or "").strip().lower().rstrip(".")
    while domain:
        if domain in listed:
            return True
        _, dot, domain = domain.partition(".")
        if not dot:
            return False
    return False
