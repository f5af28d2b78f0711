"""Shipped lists: disposable e-mail domains and coupon/deal sites (one domain per line).

Update a list by editing its file (see docs/TRUST.md), or point DISPOSABLE_DOMAINS_FILE /
COUPON_SITES_FILE at your own file in the same format (read once per file).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_HERE = Path(__file__).parent


@lru_cache(maxsize=8)
def _read(path: Path) -> frozenset[str]:
    if not path.exists():
        return frozenset()
    return frozenset(
        line.split("#", 1)[0].strip().lower()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.split("#", 1)[0].strip()
    )


def disposable_domains(replacement: str = "") -> frozenset[str]:
    """The shipped list, or the operator's file (`DISPOSABLE_DOMAINS_FILE`)."""
    return _read(Path(replacement or _HERE / "disposable_domains.txt"))


def coupon_site_domains(replacement: str = "") -> frozenset[str]:
    """The shipped list, or the operator's file (`COUPON_SITES_FILE`)."""
    return _read(Path(replacement or _HERE / "coupon_sites.txt"))


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
