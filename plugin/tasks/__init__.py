"""Background work with one code path and two runners.

* `REDIS_URL` set → Celery on Redis (`plugin.tasks.celery_app`), late acks.
* otherwise → `InProcessRunner`: a thread pool inside the web process (`make run`).

A task is a plain function decorated with `@task("name")`, which returns its handle:

    issue_coupon.enqueue(tenant_id, coupon_id)             # now (outside a transaction)
    issue_coupon.after_commit(session, tenant_id, coupon_id)  # once `session` commits
    after_commit(session, issue_coupon, tenant_id, coupon_id)  # the same, warehouse style
    issue_coupon(tenant_id, coupon_id)                     # inline, in this thread

Work queued with `after_commit` is published only after the transaction commits (a rollback
drops it, and so does the rollback of a savepoint it was queued in), so a task never looks for
rows that are not there yet. A task registered with `same_worker=True` (sending the outbox's
mail) that a running task queues is not published at all: it runs in the same worker right after
that task (`follow_ups`), saving a trip through the broker; what it leaves undone stays stored and
the sweeper re-drives it. The name is what brokers carry: it stays the same across deploys,
whatever the function is called. Tasks must be idempotent, because both runners may run one
twice (a redelivery after a crash, the sweeper re-driving stored work).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

RETRY_DELAYS = (1, 2, 5, 10, 30, 60, 120, 300)


class Task:
    """A registered task: call it to run inline, `enqueue` or `after_commit` to run it in the background."""

    def __init__(self, name: str, fn: Callable, same_worker: bool = False, last: bool = False):
        self.name = name
        self.fn = fn
        self.same_worker = same_worker
        self.last = last
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __call__(self, *args):
        return self.fn(*args)

    def enqueue(self, *args, countdown: float = 0) -> bool:
        return enqueue(self, *args, countdown=countdown)

    def after_commit(self, session: Session, *args) -> None:
        after_commit(session, self, *args)

    def __repr__(self) -> str:
        return f"<task {self.name}>"


REGISTRY: dict[str, Task] = {}


def task(name: str, *, same_worker: bool = False, last: bool = False) -> Callable[[Callable], Task]:
    """Register a task. `same_worker`: queued by a running task, it runs right after that task in the
    same worker instead of going through the broker (for short work whose state is stored, so the
    sweeper finishes it if the worker dies first). `last`: among those, it waits until the others
    are done, so one run covers what all of them queued (the mail of an approval and of its rewards)."""

    def register(fn: Callable) -> Task:
        if name in REGISTRY and REGISTRY[name].fn is not fn:
            raise RuntimeError(f"two tasks are named {name!r}")
        REGISTRY[name] = handle = Task(name, fn, same_worker, last)
        return handle

    return register


_local = threading.local()
MAX_FOLLOW_UPS = 100  # per task: a chain longer than this goes through the broker


@contextlib.contextmanager
def follow_ups() -> Iterator[None]:
    """Run the body as a task; then run, in this thread, the `same_worker` tasks it queued (and those
    they queue in turn). If the body fails, what its committed transactions queued is published."""
    outer = getattr(_local, "follow_ups", None)
    queued: list[tuple[Task, tuple]] = []
    _local.follow_ups = queued
    try:
        yield
    except BaseException:
        _local.follow_ups = outer
        for handle, args in queued:
            _publish(handle, *args)
        raise
    try:
        done = 0
        while queued and done < MAX_FOLLOW_UPS:
            handle, args = queued.pop(next((i for i, (h, _a) in enumerate(queued) if not h.last), 0))
            done += 1
            try:
                handle(*args)
            except Exception:  # noqa: BLE001 - the broker's retries take it from here
                log.warning("follow-up %s%r failed; published for a retry", handle.name, args, exc_info=True)
                _publish(handle, *args)
    finally:
        _local.follow_ups = outer
        for handle, args in queued:  # over the limit
            _publish(handle, *args)


def enqueue(handle: Task, *args, countdown: float = 0) -> bool:
    """Hand work to the runner now (inside a running task, a `same_worker` task joins its follow-ups).
    False if the broker is unreachable (the sweeper will retry)."""
    queued = getattr(_local, "follow_ups", None)
    if queued is not None and handle.same_worker and not countdown:
        if (handle, args) not in queued:
            queued.append((handle, args))
        return True
    return _publish(handle, *args, countdown=countdown)


def _publish(handle: Task, *args, countdown: float = 0) -> bool:
    try:
        current_app.extensions["task_runner"].enqueue(handle.name, *args, countdown=countdown)
        return True
    except Exception as exc:  # noqa: BLE001 - broker down: durable state lets the sweeper catch up
        log.warning("could not enqueue %s%r: %s", handle.name, args, exc)
        return False


# -- after commit ---------------------------------------------------------------------------------
# session.info["tasks.pending"]: (transaction it was queued in, handle, args), until the root commits;
# session.info["tasks.ready"]: what the committed root transaction publishes once it has ended.
_PENDING, _READY = "tasks.pending", "tasks.ready"


def after_commit(session: Session, handle: Task, *args) -> None:
    """Publish `handle(*args)` once `session`'s transaction commits; nothing if it rolls back.

    Queued inside a savepoint (`begin_nested`), it is dropped if that savepoint rolls back.
    The same task with the same arguments is published once per transaction.
    """
    if not session.in_transaction():
        session.begin()  # the work waits for the transaction the session is about to run
    owner = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((owner, handle, args))


def _inside(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_commit")
def _root_committed(session: Session) -> None:
    # Also fired when a savepoint is released; only the root's commit makes the work real.
    if session.get_nested_transaction() is None and session.info.get(_PENDING):
        session.info.setdefault(_READY, []).extend(session.info.pop(_PENDING))


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [item for item in pending if not _inside(item[0], previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _publish_when_done(session: Session, transaction: SessionTransaction) -> None:
    # The root has ended: committed (its work is in READY) or not (PENDING is dropped). Publishing
    # here, not in after_commit, runs after the connection went back to the pool.
    if transaction.parent is not None:
        return
    session.info.pop(_PENDING, None)
    ready = session.info.pop(_READY, None)
    if not ready:
        return
    published = set()
    for _owner, handle, args in ready:
        if (handle.name, args) not in published:
            published.add((handle.name, args))
            enqueue(handle, *args)


# -- runners ----------------------------------------------------------------------------------


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
    return current_app.extensions["task_runner"]
