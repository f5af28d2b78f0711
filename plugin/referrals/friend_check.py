"""Is the friend new to the shop? Asked of Saleor by e-mail, cached for a few minutes."""

from __future__ import annotations

import threading
import time

from plugin.referrals.models import OrderRecord
from plugin.tenants.models import Tenant
from plugin.tenants.service import saleor_client

_CACHE: dict[tuple[int, str, str], tuple[float, list[dict]]] = {}
_LOCK = threading.Lock()
TTL = 300.0


def _orders(tenant: Tenant, email: str) -> list[dict]:
    # The API URL too: a tenant id can name another shop after the table is rebuilt (tests do).
    key = (tenant.id, tenant.saleor_api_url, email.lower())
    with _LOCK:
        hit = _CACHE.get(key)
        if hit and time.monotonic() - hit[0] < TTL:
            return hit[1]
    orders = saleor_client(tenant).customer_orders(email)
    with _LOCK:
        _CACHE[key] = (time.monotonic(), orders)
    return orders


def friend_checker(tenant: Tenant):
    """A function telling whether the buyer of `record` paid an earlier order at this shop.

    Saleor errors propagate: the event is retried rather than decided on a guess.
    """

    def had_paid_order(record: OrderRecord) -> bool:
        if not record.contact_email:
            return False
        for order in _orders(tenant, record.contact_email):
            if order["id"] == record.saleor_order_id:
                continue
            earlier = _number(order.get("number")) < _number(record.number)
            paid = order.get("isPaid") or order.get("chargeStatus") in ("FULL", "OVERCHARGED")
            if earlier and paid and order.get("status") != "CANCELED":
                return True
        return False

    return had_paid_order


def _number(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
