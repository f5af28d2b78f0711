"""Saleor rotated its signing key: we refetch the JWKS once, rate-limited, as the app-sdk does."""

from __future__ import annotations

from sqlalchemy import func, select

from plugin.db import session_scope
from plugin.webhooks.models import WebhookEvent


def events() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(WebhookEvent.id)))


def test_new_key_is_picked_up_by_refetching_the_jwks(shop):
    saleor = shop.saleor
    fetched = saleor.jwks_requests
    saleor.rotate_key()
    order = saleor.create_order("alice@example.com", paid=True)
    deliveries = saleor.checkout_complete(order)
    assert [d.attempts[-1].status_code for d in deliveries] == [200] * len(deliveries)
    assert saleor.jwks_requests == fetched + 1, "one refetch served every later delivery"


def test_refetch_is_rate_limited_when_signatures_keep_failing(shop):
    saleor = shop.saleor
    order = saleor.create_order("alice@example.com", paid=True)
    delivery = saleor.checkout_complete(order, deliver=False)[0]
    assert delivery.body  # rendered now, so the clone below starts from these bytes
    fetched = saleor.jwks_requests
    forged = delivery.clone()
    forged._body = delivery.body.replace(b"alice", b"mallory")
    statuses = [forged.clone().send().attempts[-1].status_code for _ in range(5)]
    assert statuses == [401] * 5
    assert saleor.jwks_requests <= fetched + 1
    assert events() == 0
