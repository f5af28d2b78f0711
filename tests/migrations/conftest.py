from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, event, text

from tests.conftest import PG_ADMIN_URL, _port_open, service_missing


@pytest.fixture(params=["postgresql", "sqlite"])
def blank_database(request, tmp_path):
    """The URL of an empty database of its own, on PostgreSQL and on SQLite."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    if request.config.getoption("--sqlite"):
        pytest.skip("--sqlite: the PostgreSQL variant is not run")
    if not _port_open("127.0.0.1", 5432):
        service_missing("PostgreSQL (127.0.0.1:5432)")
    name = f"referrals_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def engine_for(url: str):
    """An engine configured like the app's (foreign keys enforced on SQLite)."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _foreign_keys(dbapi_conn, _record):
            dbapi_conn.execute("PRAGMA foreign_keys=ON")

    return engine
