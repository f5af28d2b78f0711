from __future__ import annotations

from celery import Celery


def make_celery(cfg) -> Celery:
    celery = Celery("referrals", broker=cfg.redis_url)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        # An unacknowledged task (worker killed) is handed out again after this long.
        broker_transport_options={"visibility_timeout": 120, "socket_timeout": 2, "socket_connect_timeout": 2},
        worker_hijack_root_logger=False,
        beat_schedule={"sweep": {"task": "sweep", "schedule": cfg.sweep_interval}},
    )
    return celery
