"""Background work with one code path and two runners.

* `REDIS_URL` set → Celery on Redis (`plugin.tasks.celery_app`), late acks.
* otherwise → `InProcessRunner`: a thread pool inside the web process (`make run`).

Tasks are plain functions registered with `@task`; they must be idempotent,
because both runners may run one twice (a redelivery after a crash, the sweeper).
The sweeper (`plugin.tasks.sweeper`) re-drives anything stored but not finished.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

log = logging.getLogger(__name__)

REGISTRY: dict[str, Callable] = {}
RETRY_DELAYS = (1, 2, 5, 10, 30, 60, 120, 300)


def task(name: str):
    def register(fn: Callable) -> Callable:
        REGISTRY[name] = fn
        fn.task_name = name
        return fn

    return register


class Runner:
    # True where a relay publishes stored webhook events (plugin.webhooks.relay), so ingest
    # only writes the row; runners inside the web process are handed the event directly.
    relays_stored_events = False

    def enqueue(self, name: str, *args, countdown: float = 0) -> None:
        raise NotImplementedError

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class InProcessRunner(Runner):
    """Runs tasks on a thread pool in this process, retrying failures with backoff."""

    def __init__(self, flask_app, workers: int = 4, sweep_interval: float | None = None):
        self.app = flask_app
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="task")
        self.sweep_interval = sweep_interval
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def enqueue(self, name: str, *args, countdown: float = 0, _attempt: int = 0) -> None:
        if self._stop.is_set():
            return
        if countdown > 0:
            timer = threading.Timer(countdown, self.enqueue, args=(name, *args), kwargs={"_attempt": _attempt})
            timer.daemon = True
            timer.start()
            return
        self.pool.submit(self._run, name, args, _attempt)

    def _run(self, name: str, args: tuple, attempt: int) -> None:
        with self.app.app_context():
            try:
                REGISTRY[name](*args)
            except Exception:  # noqa: BLE001 - the task is retried; the sweeper is the backstop
                log.exception("task %s%r failed (attempt %d)", name, args, attempt + 1)
                if attempt < len(RETRY_DELAYS):
                    self.enqueue(name, *args, countdown=RETRY_DELAYS[attempt], _attempt=attempt + 1)

    def start(self) -> None:
        if self.sweep_interval and self._sweeper is None:
            self._sweeper = threading.Thread(target=self._sweep_loop, name="sweeper", daemon=True)
            self._sweeper.start()

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.sweep_interval):
            self._run("sweep", (), len(RETRY_DELAYS))

    def stop(self) -> None:
        self._stop.set()
        self.pool.shutdown(wait=True, cancel_futures=False)


class EagerRunner(Runner):
    """Runs each task inline, for unit tests that want a deterministic order."""

    def __init__(self, flask_app):
        self.app = flask_app

    def enqueue(self, name: str, *args, countdown: float = 0) -> None:
        with self.app.app_context():
            REGISTRY[name](*args)


class CeleryRunner(Runner):
    relays_stored_events = True

    def __init__(self, celery):
        self.celery = celery

    def enqueue(self, name: str, *args, countdown: float = 0) -> None:
        # No publish retries: when Redis is down we fail fast; the stored row
        # is re-driven by the sweeper once the broker is back.
        self.celery.send_task(name, args=args, countdown=countdown or None, retry=False)


def runner() -> Runner:
    from flask import current_app

    return current_app.extensions["task_runner"]


def enqueue(name: str, *args, countdown: float = 0) -> bool:
    """Hand work to the runner. False if the broker is unreachable (the sweeper will retry)."""
    try:
        runner().enqueue(name, *args, countdown=countdown)
        return True
    except Exception as exc:  # noqa: BLE001 - broker down: durable state lets the sweeper catch up
        log.warning("could not enqueue %s%r: %s", name, args, exc)
        return False


def load_task_modules() -> None:
    """Import every module that defines tasks, so REGISTRY is complete."""
    import plugin.coupons.tasks  # noqa: F401
    import plugin.mail.tasks  # noqa: F401
    import plugin.merchant_webhooks.tasks  # noqa: F401
    import plugin.tasks.sweeper  # noqa: F401
    import plugin.webhooks.tasks  # noqa: F401
