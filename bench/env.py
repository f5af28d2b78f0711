"""The processes a benchmark measures, started on loopback and always stopped again.

* `scratch_database()`  a fresh PostgreSQL database (migrated), dropped afterwards
* `PrivateRedis`         redis-server on a free port (the system Redis is never touched)
* `Gunicorn`             `gunicorn -w 2 'plugin:create_app()'` (or the bare baseline app)
* `CeleryWorker`         `celery -A plugin.tasks.celery_app worker --beat`
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET_KEY = "bench-secret-key-" + "x" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


@contextlib.contextmanager
def scratch_database(migrate: bool = True) -> Iterator[str]:
    """A new database on the local PostgreSQL server; its URL. Dropped on exit."""
    name = f"referrals_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        if migrate:
            from plugin.migrations import upgrade

            upgrade(url)
        yield url
    finally:
        from plugin import db

        if db._engine is not None and db._engine.url.database == name:
            db._engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


class PrivateRedis:
    """redis-server on a free loopback port, without persistence."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> PrivateRedis:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def app_env(database_url: str, redis_url: str, app_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "DATABASE_URL", "REDIS_URL", "SMTP_URL", "APP_URL"))
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "APP_URL": app_url,
            "SECRET_KEY": SECRET_KEY,
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "DATA_DIR": tempfile.mkdtemp(prefix="bench-data-"),
            "SALEOR_ALLOW_LOOPBACK": "1",  # the emulated Saleor is on loopback
        }
    )
    env.update(extra)
    return env


class Process:
    """A child process in its own session, so stop() takes its children along."""

    def __init__(self, argv: list[str], env: dict[str, str], log_name: str):
        self.argv, self.env = argv, env
        self.log_path = Path(tempfile.gettempdir()) / f"bench-{log_name}-{os.getpid()}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Gunicorn(Process):
    """`gunicorn -w 2` (sync workers unless `extra_args` choose another class), on a free port."""

    def __init__(
        self,
        app_spec: str,
        env: dict[str, str],
        workers: int = 2,
        port: int | None = None,
        extra_args: list[str] | None = None,
    ):
        self.port = port or free_port()
        argv = [
            str(BIN / "gunicorn"),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",
            "--backlog",
            "2048",
            *(extra_args or []),
            app_spec,
        ]
        super().__init__(argv, env, f"gunicorn-{self.port}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        super().start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            try:
                requests.get(self.url + "/healthz", timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer:\n{self.log_tail()}")


class CeleryWorker(Process):
    """`celery worker` (prefork) with beat. `count_sql`: run it as `bench.counted_worker`, whose
    processes count the SQL statements they send (`sql_statements()`)."""

    def __init__(self, env: dict[str, str], concurrency: int, beat: bool = True, count_sql: bool = False):
        self.schedule = Path(tempfile.mkdtemp(prefix="bench-beat-")) / "schedule"
        self.sql_counts_dir = Path(tempfile.mkdtemp(prefix="bench-sql-")) if count_sql else None
        if self.sql_counts_dir is not None:
            env = {**env, "BENCH_SQL_COUNTS_DIR": str(self.sql_counts_dir)}
        argv = [
            str(BIN / "celery"),
            "-A",
            "bench.counted_worker" if count_sql else "plugin.tasks.celery_app",
            "worker",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--loglevel={os.environ.get('BENCH_CELERY_LOGLEVEL', 'WARNING')}",
        ]
        if beat:
            argv += ["--beat", "-s", str(self.schedule)]
        super().__init__(argv, env, f"celery-{uuid.uuid4().hex[:6]}")

    def sql_statements(self) -> int | None:
        """Statements sent so far by the worker's processes (each writes its total to a file)."""
        if self.sql_counts_dir is None:
            return None
        found = 0
        for path in self.sql_counts_dir.iterdir():
            with contextlib.suppress(OSError, ValueError):
                found += int(path.read_text() or 0)
        return found

    def main_pid(self) -> list[int]:
        return [self.proc.pid]

    def child_pids(self) -> list[int]:
        return [pid for pid in process_tree(self.proc.pid) if pid != self.proc.pid]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _command_output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "not available"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    free = _command_output(["free", "-h"]).splitlines()
    memory = free[1].split()[1] if len(free) > 1 else "unknown"
    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.connect() as conn:
            postgres = conn.execute(text("SHOW server_version")).scalar()
    except Exception as exc:  # noqa: BLE001
        postgres = f"unreachable ({type(exc).__name__})"
    finally:
        admin.dispose()
    redis_line = _command_output(["redis-server", "--version"])
    return {
        "cpu": cpu,
        "cores (nproc)": _command_output(["nproc"]),
        "memory (free -h)": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "redis": redis_line.split()[2].removeprefix("v=") if redis_line.startswith("Redis") else redis_line,
        "gunicorn": _version("gunicorn"),
        "celery": _version("celery"),
        "flask": _version("Flask"),
        "sqlalchemy": _version("SQLAlchemy"),
        "psycopg": _version("psycopg"),
        "chromium": _command_output(["chromium", "--version"]) if shutil.which("chromium") else "not installed",
        "playwright": _version("playwright"),
    }


# -- CPU accounting ------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from "state" on (the name may hold spaces)


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes, including their reaped children."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / _TICK


def machine_cpu_seconds() -> float:
    """CPU time every core spent busy since boot (all processes, ours and everyone else's)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / _TICK


def postgres_backends(database_url: str) -> list[int]:
    name = database_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.connect() as conn:
            return list(
                conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :n"), {"n": name}).scalars()
            )
    finally:
        admin.dispose()


def database_activity(database_url: str) -> dict[str, int]:
    """PostgreSQL's counters for one database (every client: gunicorn's raw INSERTs included)."""
    name = database_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            row = conn.execute(
                text(
                    "SELECT xact_commit + xact_rollback AS transactions, tup_inserted AS rows_inserted,"
                    " tup_updated AS rows_updated, tup_fetched AS rows_fetched"
                    " FROM pg_stat_database WHERE datname = :n"
                ),
                {"n": name},
            ).one()
            return dict(row._mapping)
    finally:
        admin.dispose()


def table_reads(database_url: str) -> dict[str, tuple[int, int]]:
    """Per table: (rows handed out so far by sequential scans and index fetches, sequential scans)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0), coalesce(seq_scan, 0)"
                    " FROM pg_stat_user_tables"
                )
            ).all()
            return {name: (int(reads), int(scans)) for name, reads, scans in rows}
    finally:
        engine.dispose()


class Analyzer:
    """ANALYZE of a database every few seconds while a benchmark runs: what autovacuum does on a
    production server. This server runs with `autovacuum = off`, so without it tables that grew from
    empty during the run keep the planner's empty-table estimates, and it picks plans (the tenant_id
    index for "the shop's pending e-mails") that read every row of the shop."""

    def __init__(self, database_url: str, interval: float = 5.0):
        self.database_url, self.interval = database_url, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-analyze", daemon=True)

    def _run(self) -> None:
        engine = create_engine(self.database_url, isolation_level="AUTOCOMMIT")
        try:
            while not self._stop.wait(self.interval):
                with contextlib.suppress(Exception), engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
        finally:
            engine.dispose()

    def __enter__(self) -> Analyzer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class CpuMeter:
    """CPU seconds spent by named groups of processes between start() and stop()."""

    def __init__(self, groups: dict[str, callable]):
        self.groups = groups  # name -> function returning the pids of that group now
        self._before: dict[str, dict[int, float]] = {}
        self._machine = 0.0
        self._wall = 0.0
        self.result: dict[str, float] = {}

    def _snapshot(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds([pid]) for pid in pids()} for name, pids in self.groups.items()}

    def start(self) -> CpuMeter:
        self._before = self._snapshot()
        self._machine = machine_cpu_seconds()
        self._wall = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        wall = time.monotonic() - self._wall
        for name, pids in after.items():
            before = self._before.get(name, {})
            self.result[name] = round(sum(cpu - before.get(pid, 0.0) for pid, cpu in pids.items()), 2)
        busy = machine_cpu_seconds() - self._machine
        self.result["everything else on the machine"] = round(busy - sum(self.result.values()), 2)
        self.result["wall seconds"] = round(wall, 2)
        self.result["cores available"] = os.cpu_count() or 0
        return self.result


# -- profiles ------------------------------------------------------------------------------------


class Profile:
    """py-spy sampling a process and its children (the Celery worker and its prefork pool) into
    collapsed stacks, only while a thread holds the GIL (CPU spent in Python, not waits); `summary()` gives the functions with the most samples, inclusive and own."""

    def __init__(self, pid: int, path: Path, rate: int = 200):
        self.pid, self.path, self.rate = pid, path, rate
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Profile:
        spy = shutil.which("py-spy") or str(BIN / "py-spy")
        if not Path(spy).exists():
            return self  # summary() says so: `pip install py-spy` (a wheel with its binary)
        argv = [spy, "record", "--pid", str(self.pid), "--subprocesses", "--format", "raw"]
        # --gil: only threads holding the GIL, i.e. running Python, not waiting on a socket.
        argv += ["--rate", str(self.rate), "--output", str(self.path), "--nonblocking", "--gil"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # py-spy attaches to every process of the tree
        return self

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def summary(self, top: int = 25) -> dict:
        if not self.path.exists():
            return {"available": False, "reason": "py-spy is not installed here (pip install py-spy)"}
        inclusive: dict[str, int] = {}
        own: dict[str, int] = {}
        total = 0
        for line in self.path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [_frame_name(f) for f in stack.split(";")[1:]]  # the first is the process
            for name in set(frames):
                inclusive[name] = inclusive.get(name, 0) + n
            if frames:
                own[frames[-1]] = own.get(frames[-1], 0) + n

        def ranked(counts):
            return [(name, round(100 * n / total, 1)) for name, n in sorted(counts.items(), key=lambda kv: -kv[1])]

        return {
            "available": True,
            "samples": total,
            "path": str(self.path),
            "inclusive_percent": ranked(inclusive)[:top],
            # our own functions, inclusive: where a change to this code would save time
            "plugin_inclusive_percent": [(n, pct) for n, pct in ranked(inclusive) if "plugin/" in n][:top],
            "own_percent": ranked(own)[:top],
        }


def _frame_name(frame: str) -> str:
    # py-spy: "function (path/to/module.py:123)" → "function (module path)"
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/plugin/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1] if marker != "/plugin/" else "plugin/" + path.split(marker, 1)[1]
            break
    return f"{name} ({path})"
