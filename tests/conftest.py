"""Shared fixtures: real PostgreSQL and Redis where this machine has them, a Saleor
emulator on loopback, the app served on loopback, and a local SMTP server.

On a machine without PostgreSQL/Redis the tests that need them skip with a
message; under CI=true a missing service fails the run instead.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from plugin.config import Config
from plugin.db import session_scope
from plugin.tenants.models import Tenant
from tests.saleor_schemas import SchemaUnavailable, schema_file

ROOT = Path(__file__).resolve().parents[1]
PAYLOADS = ROOT / "tests" / "fixtures" / "saleor"  # deliveries captured from a real Saleor 3.23.28
IN_CI = os.environ.get("CI", "").lower() == "true"

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _redis_test_url() -> str:
    """TEST_REDIS_URL's database, one below it per further pytest-xdist worker (gw1 → 14, …): each
    worker flushes its database and runs its own Celery workers on it."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    if index == 0:
        return url
    base, _, db = url.rpartition("/")
    return f"{base}/{((int(db) if db.isdigit() else 0) - index) % 16}"


REDIS_TEST_URL = _redis_test_url()


def pytest_addoption(parser):
    parser.addoption("--run-long-drills", action="store_true", help="run the long fault drills")
    parser.addoption("--sqlite", action="store_true", help="run the suite on SQLite instead of PostgreSQL")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-long-drills"):
        return
    skip = pytest.mark.skip(reason="long drill: run with `make drills`")
    for item in items:
        if "longdrill" in item.keywords:
            item.add_marker(skip)


def pytest_sessionstart(session):
    if IN_CI:
        try:
            schema_file()
        except SchemaUnavailable as exc:
            raise pytest.UsageError(f"{exc}\n(required under CI=true)") from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that needs Saleor's schema where it is not available skips with the reason (fails under
    CI=true), whether the emulator, a fixture or the test itself asked for it."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(SchemaUnavailable):
        message = str(call.excinfo.value)
        if IN_CI:
            report.longrepr = f"{message}\n(required under CI=true)"
        else:
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {message}")
    return report


def service_missing(what: str):
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not reachable", pytrace=False)
    pytest.skip(f"{what} not reachable on this machine; start it to run this test")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_database_url(request):
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if request.config.getoption("--sqlite") or not _port_open("127.0.0.1", 5432):
        yield None
        return
    name = f"referrals_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # survives a PG restart drill
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from plugin import db

    if db._engine is not None:
        db._engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(pg_database_url, tmp_path_factory):
    if pg_database_url:
        return pg_database_url
    if IN_CI:
        pytest.fail("PostgreSQL is required under CI=true but is not reachable", pytrace=False)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture
def postgres(database_url):
    """Marks a test as needing PostgreSQL (row locks, real concurrency)."""
    if not database_url.startswith("postgresql"):
        service_missing("PostgreSQL (127.0.0.1:5432)")
    return database_url


@pytest.fixture(scope="session")
def redis_url():
    if not _port_open("127.0.0.1", 6379):
        service_missing("Redis (127.0.0.1:6379)")
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    return REDIS_TEST_URL


def _engine_ready() -> bool:
    from plugin import db

    try:
        db.engine()
    except RuntimeError:  # no app yet in this session: the database is fresh
        return False
    return True


def _clean_tables():
    from plugin import db
    from plugin.models import Base

    with db.engine().begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


# -- the app ---------------------------------------------------------------------------------


@pytest.fixture
def make_config(database_url, tmp_path):
    def make(**overrides) -> Config:
        base = dict(
            app_url="http://127.0.0.1:3000",
            database_url=database_url,
            redis_url="",
            smtp_url="",
            mail_outbox_dir=str(tmp_path / "outbox"),
            secret_key="test-secret-key-" + "x" * 32,
            allowed_saleor_api_urls=[],
            saleor_timeout=3.0,
            sweep_interval=0,
            data_dir=str(tmp_path / "data"),
            saleor_allow_loopback=True,  # the emulator is on loopback, as a local Saleor is for `make run`
        )
        base.update(overrides)
        return Config(**base)

    return make


@pytest.fixture
def app(make_config):
    """The app with an eager task runner: every task runs inline, in order."""
    from plugin.app import create_app

    application = create_app(make_config(), runner="eager")
    _clean_tables()
    yield application
    _clean_tables()


@pytest.fixture
def client(app):
    return app.test_client()


class LiveServer:
    def __init__(self, app, port):
        from werkzeug.serving import make_server

        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        runner = self.app.extensions.get("task_runner")
        if hasattr(runner, "stop"):  # tests may swap in a bare recording runner
            runner.stop()


@pytest.fixture
def make_live_server(make_config):
    """Serve a fresh app on a free loopback port; APP_URL is that address."""
    from plugin.app import create_app

    servers = []

    def make(*, runner: str | None = "eager", **overrides) -> LiveServer:
        port = free_port()
        cfg = make_config(app_url=f"http://127.0.0.1:{port}", port=port, **overrides)
        if not servers and _engine_ready():
            _clean_tables()  # before the new app's runner starts: its sweeper must not race the TRUNCATE
        application = create_app(cfg, runner=runner)
        server = LiveServer(application, port).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    _clean_tables()


@pytest.fixture
def live_server(make_live_server):
    return make_live_server()


# -- Saleor emulator --------------------------------------------------------------------------


@pytest.fixture
def saleor():
    from tests.saleor_emulator import SaleorEmulator

    emulator = SaleorEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


# -- SMTP -------------------------------------------------------------------------------------


class SMTPSink:
    """aiosmtpd on loopback, keeping every accepted message."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) of each message
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 15.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        with self._lock:
            return list(self.messages)


@pytest.fixture
def smtp():
    sink = SMTPSink().start()
    yield sink
    sink.stop()


# -- an installed shop ------------------------------------------------------------------------------


class Shop:
    """An installed shop: the emulated Saleor, the app served on loopback (eager tasks), the SMTP sink
    the app sends to, and the app's identity in Saleor."""

    def __init__(self, saleor, server, app, smtp=None):
        self.saleor = saleor
        self.server = server
        self.app = app
        self.smtp = smtp

    @property
    def flask_app(self):
        return self.server.app

    @property
    def url(self) -> str:
        return self.server.url

    def tenant(self) -> Tenant:
        with session_scope() as session:
            return session.scalar(select(Tenant).where(Tenant.saleor_api_url == self.saleor.api_url))

    def tenant_id(self) -> int:
        return self.tenant().id


@pytest.fixture
def install_shop(saleor, make_live_server, smtp):
    """Serve the app (overrides: its Config fields, or `runner`) and install it into the emulated Saleor."""

    def install(**server_overrides) -> Shop:
        server = make_live_server(**{"smtp_url": smtp.url, **server_overrides})
        result = saleor.install(f"{server.url}/api/manifest")
        assert result.response.status_code == 200, result.response.text
        return Shop(saleor, server, result.app, smtp)

    return install


@pytest.fixture
def shop(install_shop):
    """The installed shop; the test runs inside the app's context, so it can call services directly too."""
    installed = install_shop()
    with installed.flask_app.app_context():
        yield installed


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
