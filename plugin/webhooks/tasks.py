"""Webhook work in the background: the task loads ids and calls `plugin.webhooks.pipeline`."""

from __future__ import annotations

from plugin.tasks import task
from plugin.webhooks import pipeline


@task("process_event")
def process_event(tenant_id: int, event_id: int, *more_ids: int) -> str:
    return pipeline.process_event(tenant_id, event_id, *more_ids)
