"""Celery entry point: `celery -A plugin.tasks.celery_app worker --beat`.

Every registered task runs inside the Flask app context, acks late and is
re-queued if the worker dies mid-task; tasks are idempotent, so that is safe.
"""
from __future__ import annotations

from plugin.app import create_app
from plugin.tasks import REGISTRY, RETRY_DELAYS, load_task_modules

flask_app = create_app()
celery = flask_app.extensions.get("celery")
if celery is None:
    raise SystemExit("REDIS_URL is not set: the Celery worker needs Redis (make run uses the in-process runner).")

load_task_modules()


def _bind(name, fn):
    @celery.task(name=name, bind=True, max_retries=len(RETRY_DELAYS))
    def run(self, *args):
        with flask_app.app_context():
            try:
                return fn(*args)
            except Exception as exc:  # noqa: BLE001 - retried with backoff; the sweeper is the backstop
                if name == "sweep":
                    raise
                delay = RETRY_DELAYS[min(self.request.retries, len(RETRY_DELAYS) - 1)]
                raise self.retry(exc=exc, countdown=delay)

    return run


for _name, _fn in list(REGISTRY.items()):
    _bind(_name, _fn)

app = celery
