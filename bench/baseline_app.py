"""The baselines, served by the same gunicorn command as the app.

gunicorn -w 2 'bench.baseline_app:app'          a bare Flask endpoint answering 200
gunicorn -w 2 'bench.baseline_app:insert_app'   the same, plus the app's one INSERT of the delivery

The second is the floor the database sets: the same autocommitted `INSERT … ON CONFLICT DO NOTHING
RETURNING id` into `webhook_events` that ingest sends (plugin/webhooks/store.py), on a psycopg
connection kept per thread, without signature checks, tenant lookup or SQLAlchemy. What the app
spends above it is ours; what it spends below the bare endpoint's figures is the database's.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

from flask import Flask, jsonify, request

from plugin.db import utcnow
from plugin.webhooks.store import _PSYCOPG_INSERT

app = Flask(__name__)


@app.post("/api/webhooks/saleor")
def webhook():
    request.get_data()  # read the body, as the real endpoint must
    return jsonify({"ok": True}), 200


@app.get("/healthz")
def healthz():
    return jsonify({"ok": True})


insert_app = Flask(__name__ + ".insert")
_local = threading.local()


def _connection():
    import psycopg

    connection = getattr(_local, "connection", None)
    if connection is None or connection.closed:
        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        connection = _local.connection = psycopg.connect(url, autocommit=True)
    return connection


@insert_app.post("/api/webhooks/saleor")
def insert_webhook():
    raw = request.get_data()
    payload = json.loads(raw)
    order = payload.get("order") or {}
    row = (
        _connection()
        .execute(
            _PSYCOPG_INSERT,
            {
                "tenant_id": int(os.environ.get("BENCH_TENANT_ID", "1")),
                "event_type": request.headers.get("Saleor-Event", ""),
                "order_id": order.get("id"),
                "body_sha256": hashlib.sha256(raw).hexdigest(),
                "body": raw.decode("utf-8"),
                "issued_at": payload.get("issuedAt"),
                "received_at": utcnow(),
                "queued_at": None,  # as under Celery: the relay would pick the row up
                "status": "pending",
            },
        )
        .fetchone()
    )
    return jsonify({"ok": True, "duplicate": row is None}), 200


@insert_app.get("/healthz")
def insert_healthz():
    return jsonify({"ok": True})
