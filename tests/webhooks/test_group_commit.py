"""Group commit on ingest: deliveries that arrive while another thread commits are written together
in one transaction; each request still returns only with its own row durable, or its own error."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

from plugin.db import session_scope
from plugin.tenants.models import Tenant
from plugin.webhooks import store
from plugin.webhooks.models import WebhookEvent


def _tenant() -> int:
    with session_scope() as session:
        tenant = Tenant(saleor_api_url="https://grouped.example.com/graphql/", domain="grouped.example.com")
        session.add(tenant)
    return tenant.id


def _delivery(n: int) -> tuple[bytes, dict]:
    payload = {"order": {"id": f"T3JkZXI6{n:04d}"}, "issuedAt": "2026-12-01T10:00:00Z"}
    return json.dumps(payload).encode(), payload


def _stored() -> list[tuple[str, int]]:
    with session_scope() as session:
        return list(session.execute(select(WebhookEvent.order_id, WebhookEvent.tenant_id)).tuples())


def test_concurrent_deliveries_are_committed_together_and_each_gets_its_answer(app, postgres, monkeypatch):
    tenant_id = _tenant()
    batches = []
    real = store._store_with_psycopg

    def recording(engine, batch):
        batches.append(len(batch))
        return real(engine, batch)

    monkeypatch.setattr(store, "_store_with_psycopg", recording)
    # Every delivery twice (a Saleor retry racing the first try), and one of a shop that is gone.
    jobs = [(tenant_id, *_delivery(n)) for n in range(24)] * 2 + [(tenant_id + 999, *_delivery(99))]
    answers: dict[int, object] = {}
    start = threading.Barrier(len(jobs))

    def deliver(i, tenant, raw, payload):
        start.wait()
        with app.app_context():
            try:
                answers[i] = store.store_event(tenant, "order_paid", raw, payload)
            except store.UnknownShop as exc:
                answers[i] = exc

    threads = [threading.Thread(target=deliver, args=(i, *job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert max(batches) > 1, "rows that arrived during a commit went together"
    assert sum(batches) >= len(jobs)
    ids = [answers[i] for i in range(48)]
    new = [a for a in ids if isinstance(a, int)]
    assert len(new) == 24 and len(set(new)) == 24, "each delivery stored once, whoever came first"
    assert ids.count(None) == 24, "its copy is recognised as a redelivery"
    assert isinstance(answers[48], store.UnknownShop), "the unknown shop's row fails alone"
    assert sorted(_stored()) == sorted((f"T3JkZXI6{n:04d}", tenant_id) for n in range(24))


def test_a_database_failure_reaches_every_request_of_the_batch(app, postgres, monkeypatch):
    tenant_id = _tenant()

    def down(engine, batch):
        raise store.StorageUnavailable("connection refused")

    monkeypatch.setattr(store, "_store_with_psycopg", down)
    raw, payload = _delivery(1)
    with app.app_context(), pytest.raises(store.StorageUnavailable):
        store.store_event(tenant_id, "order_paid", raw, payload)
    assert _stored() == []
