"""Storage: one SQLAlchemy engine, sessions, and tenant isolation.

Every table that belongs to a shop inherits `TenantScoped`. A session opened
with `session_scope(tenant_id)` automatically filters every SELECT of such a
table to that tenant and refuses to flush a row of another tenant, so a query
written in a hurry cannot cross shops.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, bindparam, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    make_transient_to_detached,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on every backend (SQLite forgets the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite so autoincrement works.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class TenantScoped:
    """Mixin for rows owned by one shop (tenant = one Saleor API URL)."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False)


class CrossTenantWrite(RuntimeError):
    pass


_engine: Engine | None = None
_autocommit_engine: Engine | None = None
_Session: sessionmaker | None = None
_sqlite_write_lock = threading.RLock()


def init_engine(database_url: str) -> Engine:
    global _engine, _autocommit_engine, _Session
    if _engine is not None and str(_engine.url) == database_url:
        return _engine
    if _engine is not None:
        _engine.dispose()
    if _autocommit_engine is not None:
        _autocommit_engine.dispose()
        _autocommit_engine = None
    # hide_parameters: a database error's text (logged with its task) must not quote e-mails or codes.
    kwargs: dict = {"future": True, "pool_pre_ping": True, "hide_parameters": True}
    if database_url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20)
    _engine = create_engine(database_url, **kwargs)
    if database_url.startswith("sqlite"):

        @event.listens_for(_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    _Session = sessionmaker(bind=_engine, expire_on_commit=False, future=True)
    return _engine


def autocommit_engine() -> Engine:
    """For single statements on hot paths (webhook ingest, the relay's poll): every statement is its
    own durable transaction and a checkout costs no pre-ping round trip, so a caller must expect one
    failure on a pooled connection the server dropped (a restart) and try again on a fresh one."""
    global _autocommit_engine
    if _autocommit_engine is None:
        main = engine()
        if main.dialect.name == "sqlite":
            return main
        # Nothing to roll back on check-in: every statement committed itself.
        _autocommit_engine = create_engine(
            main.url,
            future=True,
            isolation_level="AUTOCOMMIT",
            hide_parameters=True,
            pool_size=5,
            max_overflow=10,
            pool_reset_on_return=None,
        )
    return _autocommit_engine


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("init_engine() was not called")
    return _engine


@contextlib.contextmanager
def session_scope(tenant_id: int | None = None) -> Iterator[Session]:
    """A transaction: commit on success, roll back on error.

    With `tenant_id`, every query of a tenant-scoped table is confined to it.
    """
    if _Session is None:
        raise RuntimeError("init_engine() was not called")
    session = _Session()
    session.info["tenant_id"] = tenant_id
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextlib.contextmanager
def serialized(session: Session) -> Iterator[None]:
    """Serialise writers on SQLite (no row locks there); a no-op on PostgreSQL,
    where callers use SELECT ... FOR UPDATE instead."""
    if session.get_bind().dialect.name == "sqlite":
        with _sqlite_write_lock:
            yield
    else:
        yield


@functools.lru_cache(maxsize=1024)
def _tenant_criteria(tenant_id: int):
    # Built once per tenant: constructing the option (and analysing its lambda) on every query
    # cost about a fifth of a simple ORM query.
    return with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)


@event.listens_for(Session, "do_orm_execute")
def _confine_to_tenant(state):
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None or not state.is_select:
        return
    state.statement = state.statement.options(_tenant_criteria(tenant_id))


@event.listens_for(Session, "before_flush")
def _refuse_cross_tenant_writes(session, _flush_context, _instances):
    for obj in list(session.new) + list(session.dirty):
        _keep_to_session_tenant(session, obj)


def _keep_to_session_tenant(session: Session, obj) -> None:
    """A row written in a tenant's session belongs to that tenant: unset, it is set; another, refused."""
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None or not isinstance(obj, TenantScoped):
        return
    if obj.tenant_id is None:
        obj.tenant_id = tenant_id
    elif obj.tenant_id != tenant_id:
        raise CrossTenantWrite(f"{type(obj).__name__} of tenant {obj.tenant_id} in a session of tenant {tenant_id}")


def record_failure(tenant_id: int, model: type, row_id: int, exc: Exception, *, counter: str = "attempts") -> None:
    """Count a failed attempt on a stored piece of work and keep the error where the merchant sees it.

    Called after the failed transaction rolled back (its locks released), in a transaction of its own.
    """
    with session_scope(tenant_id) as session:
        row = session.get(model, row_id)
        if row is not None:
            setattr(row, counter, (getattr(row, counter) or 0) + 1)
            row.last_error = f"{type(exc).__name__}: {exc}"[:500]


def insert_unless_present(session: Session, row: Base, *conflict_columns: str):
    """Store a new row in one statement (`INSERT … ON CONFLICT (…) DO NOTHING RETURNING *`) and return
    it as a persistent object, or None when a row with the same `conflict_columns` (a unique key;
    none named: any unique key) exists already. Replaces SELECT + SAVEPOINT + INSERT + RELEASE on the
    per-order path; a clash on another unique key than the named one raises IntegrityError, as the
    ORM's insert would. Core, not the ORM's bulk insert: that one rebuilt and re-keyed the statement
    from its values on every call, which cost more than the round trips it saved."""
    model = type(row)
    _keep_to_session_tenant(session, row)
    mapper = inspect(model)
    values = {
        column.key: value
        for attr in mapper.column_attrs
        for column in attr.columns[:1]
        if (value := row.__dict__.get(attr.key)) is not None
    }
    dialect = session.get_bind().dialect.name
    statement = _insert_unless_present_statement(model, dialect, tuple(sorted(values)), conflict_columns)
    stored = session.connection().execute(statement, values).first()
    if stored is None:
        return None
    for attr in mapper.column_attrs:
        setattr(row, attr.key, stored._mapping[attr.columns[0]])
    make_transient_to_detached(row)
    session.add(row)
    return row


@functools.lru_cache(maxsize=256)
def _insert_unless_present_statement(model, dialect: str, columns: tuple[str, ...], conflict_columns: tuple[str, ...]):
    table = model.__table__
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return (
        insert.values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        .on_conflict_do_nothing(index_elements=list(conflict_columns) or None)
        .returning(*table.c)
    )
