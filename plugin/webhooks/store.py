"""Writing a verified delivery to `webhook_events`: the one statement on the ingest path.

An `INSERT … ON CONFLICT DO NOTHING`: the row is durable when it returns, and a redelivery of the
same bytes is recognised by the unique (tenant, event, body hash). Deliveries that arrive while
another request thread of the process is committing are inserted together in one transaction
(`GroupCommit`): one WAL flush for all of them, which is what a commit waits for. On
PostgreSQL, the production store, the statement goes to the driver directly, because SQLAlchemy's
execution layer cost about a quarter of the ingest CPU (docs/BENCHMARKS.md); other backends take
the SQLAlchemy path.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

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
        return _GROUP.store(params, lambda batch: _store_with_psycopg(engine, batch))
    try:
        with engine.begin() as conn:
            return conn.execute(_SQLALCHEMY_INSERT, params).scalar()
    except IntegrityError as exc:
        raise UnknownShop() from exc
    except DBAPIError as exc:
        raise StorageUnavailable(str(exc.orig)) from exc


class _Slot:
    __slots__ = ("params", "ready", "leads", "result", "error")

    def __init__(self, params: dict):
        self.params = params
        self.ready = threading.Event()
        self.leads = False
        self.result: int | None = None
        self.error: BaseException | None = None

    def outcome(self) -> int | None:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """Group commit for the request threads of one process: deliveries that arrive while another
    thread is committing are written together, in one transaction, when it is done, so one WAL flush
    makes all of them durable instead of one flush each. Nobody waits for company: a delivery that
    finds no commit under way is written at once, alone. Every caller returns only once its own row
    is committed (or with its own error)."""

    def __init__(self, max_batch: int = 64):
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._busy = False

    def store(self, params: dict, write: Callable[[list[dict]], list[int | None | Exception]]) -> int | None:
        slot = _Slot(params)
        with self._lock:
            self._queue.append(slot)
            if not self._busy:
                self._busy = slot.leads = True
        if not slot.leads:
            slot.ready.wait()  # served by a leader, or made the next one
            if not slot.leads:
                return slot.outcome()
        with self._lock:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        try:
            for served, result in zip(batch, write([s.params for s in batch]), strict=True):
                if isinstance(result, Exception):
                    served.error = result
                else:
                    served.result = result
        except BaseException as exc:  # noqa: BLE001 - every waiting request gets it, as its own would
            for served in batch:
                served.error = exc
        with self._lock:
            successor = self._queue[0] if self._queue else None
            if successor is None:
                self._busy = False
            else:
                successor.leads = True
        for served in batch:
            if served is not slot:
                served.ready.set()
        if successor is not None:
            successor.ready.set()
        return slot.outcome()


_GROUP = GroupCommit()


def _store_with_psycopg(engine, batch: list[dict]) -> list[int | None | Exception]:
    """Insert the rows in one transaction; each one's id, None for a redelivery, or its error."""
    if len(batch) == 1:
        return [_insert_one(engine, batch[0])]
    try:
        return _insert_together(engine, batch)
    except UnknownShop:
        # A row of a shop that is gone aborted the transaction for all: each on its own then.
        outcomes: list[int | None | Exception] = []
        for params in batch:
            try:
                outcomes.append(_insert_one(engine, params))
            except (UnknownShop, StorageUnavailable) as exc:
                outcomes.append(exc)
        return outcomes


def _insert_one(engine, params: dict) -> int | None:
    def run(connection):
        with connection.cursor() as cursor:
            cursor.execute(_PSYCOPG_INSERT, params)
            row = cursor.fetchone()
        return row[0] if row else None

    return _on_pooled_connection(engine, run)


def _insert_together(engine, batch: list[dict]) -> list[int | None]:
    def run(connection):
        ids = []
        with connection.driver_connection.transaction(), connection.cursor() as cursor:
            cursor.executemany(_PSYCOPG_INSERT, batch, returning=True)
            while True:  # one result per row: its id, or nothing when it was a redelivery
                row = cursor.fetchone()
                ids.append(row[0] if row else None)
                if not cursor.nextset():
                    break
        return ids

    return _on_pooled_connection(engine, run)


def _on_pooled_connection(engine, run):
    for attempt in (1, 2):
        try:
            connection = engine.raw_connection()
        except DBAPIError as exc:
            raise StorageUnavailable(str(exc.orig)) from exc
        try:
            return run(connection)
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
