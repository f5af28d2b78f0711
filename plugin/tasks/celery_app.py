"""Celery entry point: `celery -A plugin.tasks.celery_app worker --beat`.

Every registered task runs inside the Flask app context, acks late and is
re-queued if the worker dies mid-task; tasks are idempotent, so that is safe.
"""

from __future__ import annotations

import contextlib

from celery import bootsteps
from celery.signals import worker_process_init

from plugin import db
from plugin.app import create_app
from plugin.tasks import REGISTRY, RETRY_DELAYS, Task, follow_ups
from plugin.webhooks.relay import EventRelay
from plugin.webhooks.tasks import process_event

flask_app = create_app()  # registers every task (plugin.app imports the task modules)
celery = flask_app.extensions.get("celery")
if celery is None:
    raise SystemExit("REDIS_URL is not set: the Celery worker needs Redis (make run uses the in-process runner).")


def _bind(name: str, handle: Task):
    @celery.task(name=name, bind=True, max_retries=len(RETRY_DELAYS))
    def run(self, *args):
        with flask_app.app_context():
            try:
                # What a sweep re-drives is spread over the pool, not run as its follow-ups.
                with contextlib.nullcontext() if name == "sweep" else follow_ups():
                    return handle(*args)
            except Exception as exc:  # noqa: BLE001 - retried with backoff; the sweeper is the backstop
                if name == "sweep":
                    raise
                delay = RETRY_DELAYS[min(self.request.retries, len(RETRY_DELAYS) - 1)]
                raise self.retry(exc=exc, countdown=delay) from exc

    return run


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs):
    # A prefork child must not reuse database connections its parent may have opened.
    db.engine().dispose(close=False)
    if db._autocommit_engine is not None:
        db._autocommit_engine.dispose(close=False)


for _name, _handle in list(REGISTRY.items()):
    _bind(_name, _handle)


class _RelayPublisher:
    """Publishes on a broker connection of its own: the worker's pooled connections belong to its
    event loop and must not be used from the relay thread."""

    def __init__(self):
        self.connection = None

    def __call__(self, tenant_id: int, *event_ids: int) -> None:
        if self.connection is None:
            self.connection = celery.connection_for_write()
        try:
            celery.send_task(process_event.name, args=(tenant_id, *event_ids), retry=False, connection=self.connection)
        except Exception:
            self.connection.release()
            self.connection = None
            raise


class EventRelayStep(bootsteps.StartStopStep):
    """Runs the webhook event relay in the worker's main process, after the pool has forked."""

    requires = {"celery.worker.components:Pool"}

    def start(self, worker):
        self.relay = EventRelay(flask_app, _RelayPublisher()).start()

    def stop(self, worker):
        relay = getattr(self, "relay", None)
        if relay is not None:
            relay.stop()


celery.steps["worker"].add(EventRelayStep)

app = celery
