"""The Celery app of `plugin.tasks.celery_app`, with every SQL statement its processes send counted.

    celery -A bench.counted_worker worker ...     (BENCH_SQL_COUNTS_DIR=/some/dir)

Each process (the main one with the relay, and every prefork child) counts the statements
SQLAlchemy sends (`before_cursor_execute`) and writes its running total to `<dir>/<pid>` four
times a second, so the benchmark can take the difference over a run. Only the benchmark uses it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from celery.signals import worker_process_init
from sqlalchemy import event
from sqlalchemy.engine import Engine

from plugin.tasks.celery_app import app, celery, flask_app  # noqa: F401 - the app celery -A loads

COUNTS_DIR = Path(os.environ.get("BENCH_SQL_COUNTS_DIR", "/tmp"))
_count = 0
_lock = threading.Lock()


@event.listens_for(Engine, "before_cursor_execute")
def _counted(*_args, **_kwargs):
    global _count
    with _lock:
        _count += 1


def _writer(pid: int) -> None:
    path = COUNTS_DIR / str(pid)
    last = None
    while True:
        if _count != last:
            last = _count
            path.write_text(str(last))
        threading.Event().wait(0.25)


def _start_writer() -> None:
    global _count
    _count = 0  # a forked child starts its own count
    threading.Thread(target=_writer, args=(os.getpid(),), name="sql-count", daemon=True).start()


@worker_process_init.connect
def _child_started(**_kwargs):
    _start_writer()


_start_writer()
