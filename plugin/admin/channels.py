"""The shop's Saleor channels (slug, name, currency), asked from Saleor and kept for a minute.
The shop's name comes with them; a name changed in Saleor is stored at once (shoppers read it).

When Saleor cannot be reached, the channels our own records have seen stand in,
marked `source: "local"`, so the page still works (and validation does not
reject a channel just because Saleor was briefly down).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import func, select

from plugin.db import session_scope
from plugin.referrals.models import Advocate, OrderRecord
from plugin.saleor.client import SaleorError
from plugin.tenants import service as tenants

log = logging.getLogger(__name__)

TTL_SECONDS = 60.0
_cache: dict[tuple[int, str], tuple[float, dict]] = {}
_lock = threading.Lock()


def shop_channels(tenant_id: int, *, refresh: bool = False) -> dict:
    """{"source": "saleor"|"local", "shop_name": str|None, "channels": [{slug, name, currency, id}]}."""
    now = time.monotonic()
    tenant = tenants.get_tenant(tenant_id)
    key = (tenant_id, tenant.saleor_api_url)
    with _lock:
        cached = _cache.get(key)
    if cached and not refresh and now - cached[0] < TTL_SECONDS:
        return cached[1]
    try:
        data = tenants.saleor_client(tenant).shop_info()
    except (SaleorError, RuntimeError) as exc:
        log.warning("channels of tenant %s from Saleor unavailable: %s", tenant_id, exc)
        return _local_channels(tenant_id)
    name = tenants.clean_shop_name((data.get("shop") or {}).get("name"))
    if name != tenant.shop_name:
        tenants.note_shop_name(tenant_id, name)
    result = {
        "source": "saleor",
        "shop_name": name,
        "channels": [
            {
                "slug": c["slug"],
                "name": c.get("name") or c["slug"],
                "currency": c.get("currencyCode") or "",
                "id": c.get("id"),
            }
            for c in data.get("channels") or []
            if c.get("slug")
        ],
    }
    with _lock:
        _cache[key] = (now, result)
    return result


def _local_channels(tenant_id: int) -> dict:
    with session_scope(tenant_id) as session:
        rows = session.execute(
            select(OrderRecord.channel_slug, OrderRecord.currency, func.count())
            .where(OrderRecord.tenant_id == tenant_id)
            .group_by(OrderRecord.channel_slug, OrderRecord.currency)
        ).all()
        rows += session.execute(
            select(Advocate.channel_slug, Advocate.currency, func.count())
            .where(Advocate.tenant_id == tenant_id)
            .group_by(Advocate.channel_slug, Advocate.currency)
        ).all()
    seen: dict[str, str] = {}
    for slug, currency, _count in rows:
        if slug and slug not in seen:
            seen[slug] = currency or ""
    return {
        "source": "local",
        "shop_name": None,
        "channels": [{"slug": s, "name": s, "currency": c, "id": None} for s, c in sorted(seen.items())],
    }


def currency_map(info: dict) -> dict[str, str] | None:
    """slug -> currency for validation; None when the list is only our local guess."""
    if info["source"] != "saleor":
        return None
    return {c["slug"]: c["currency"] for c in info["channels"]}


def channel_info(info: dict) -> dict[str, dict]:
    return {c["slug"]: {"name": c["name"], "currency": c["currency"]} for c in info["channels"]}


def forget(tenant_id: int | None = None) -> None:
    with _lock:
        for key in [k for k in _cache if tenant_id is None or k[0] == tenant_id]:
            _cache.pop(key, None)


# Saleor has no "default channel" in its API (no `shop.defaultChannel` in 3.21, 3.22 or 3.23). The
# rule: the channel Saleor itself treats as the default, `default-channel` (core's
# DEFAULT_CHANNEL_SLUG, the channel `populatedb` and the first-channel migration create, and the
# storefront's NEXT_PUBLIC_DEFAULT_CHANNEL); else the channel where the app has seen most orders;
# else the first channel Saleor lists.
SALEOR_DEFAULT_CHANNEL_SLUG = "default-channel"


def default_channel(tenant_id: int, info: dict) -> dict | None:
    channels = info["channels"]
    if not channels:
        return None
    by_slug = {c["slug"]: c for c in channels}
    if SALEOR_DEFAULT_CHANNEL_SLUG in by_slug:
        return by_slug[SALEOR_DEFAULT_CHANNEL_SLUG]
    with session_scope(tenant_id) as session:
        busiest = session.execute(
            select(OrderRecord.channel_slug, func.count().label("orders"))
            .where(OrderRecord.tenant_id == tenant_id, OrderRecord.channel_slug.in_(list(by_slug)))
            .group_by(OrderRecord.channel_slug)
            .order_by(func.count().desc(), OrderRecord.channel_slug)
            .limit(1)
        ).first()
    return by_slug[busiest[0]] if busiest else channels[0]
