"""Writing a verified delivery to `webhook_events`: the one statement on the ingest path.

An autocommitted `INSERT … ON CONFLICT DO NOTHING`: the row is durable when it returns, and a
redelivery of the same bytes is recognised by the unique (tenant, event, body hash). On
PostgreSQL, the production store, the statement goes to the driver directly, because SQLAlchemy's
execution layer cost about a quarter of the ingest CPU (docs/BENCHMARKS.md); other backends take
the SQLAlchemy path.
"""

from __future__ import annotations

import hashlib

import psycopg
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from plugin import db
from plugin.db import UTCDateTime, utcnow
from plugin.webhooks.models import WebhookEvent


class StorageUnavailable(Exception):
    """The database did not take the row: answer 5xx so that Saleor delivers again later."""


class UnknownShop(Exception):
    """The tenant row is gone (the cached shop was stale)."""


_COLUMNS = (
    "tenant_id",
    "event_type",
    "order_id",
    "body_sha256",
    "body",
    "issued_at",
    "received_at",
    "queued_at",
    "status",
)


def _insert(placeholder) -> str:
    return (
        f"INSERT INTO webhook_events ({', '.join(_COLUMNS)}, attempts)"
        f" VALUES ({', '.join(placeholder(c) for c in _COLUMNS)}, 0)"
        " ON CONFLICT (tenant_id, event_type, body_sha256) DO NOTHING RETURNING id"
    )


_PSYCOPG_INSERT = _insert(lambda column: f"%({column})s")
_SQLALCHEMY_INSERT = text(_insert(lambda column: f":{column}")).bindparams(
    bindparam("received_at", type_=UTCDateTime()), bindparam("queued_at", type_=UTCDateTime())
)


def store_event(tenant_id: int, event: str, raw: bytes, payload: dict, *, relayed: bool = False) -> int | None:
    """The new row's id, or None when these exact bytes were stored before (Saleor re-sends the
    same body on retry). `relayed`: leave the row for the relay to queue (plugin.webhooks.relay)."""
    order = payload.get("order") if isinstance(payload.get("order"), dict) else {}
    now = utcnow()
    params = {
        "tenant_id": tenant_id,
        "event_type": event,
        "order_id": order.get("id"),
        "body_sha256": hashlib.sha256(raw).hexdigest(),
        "body": raw.decode("utf-8"),
        "issued_at": str(payload.get("issuedAt") or "")[:64] or None,
        "received_at": now,
        "queued_at": None if relayed else now,
        "status": WebhookEvent.PENDING,
    }
    engine = db.autocommit_engine()
    if engine.dialect.driver == "psycopg":
        return _store_with_psycopg(engine, params)
    try:
        with engine.begin() as conn:
            return conn.execute(_SQLALCHEMY_INSERT, params).scalar()
    except IntegrityError as exc:
        raise UnknownShop() from exc
    except DBAPIError as exc:
        raise StorageUnavailable(str(exc.orig)) from exc


def _store_with_psycopg(engine, params: dict) -> int | None:
    for attempt in (1, 2):
        try:
            connection = engine.raw_connection()
        except DBAPIError as exc:
            raise StorageUnavailable(str(exc.orig)) from exc
        try:
            with connection.cursor() as cursor:
                cursor.execute(_PSYCOPG_INSERT, params)
                row = cursor.fetchone()
            return row[0] if row else None
        except psycopg.IntegrityError as exc:
            raise UnknownShop() from exc
        except psycopg.OperationalError as exc:
            # The pool skips the pre-ping here, so a connection the server dropped (a restart)
            # shows up now: throw it away and try once more on a fresh one.
            connection.invalidate()
            if attempt == 2:
                raise StorageUnavailable(str(exc)) from exc
        finally:
            connection.close()
    return None
