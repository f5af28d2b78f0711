"""Outbound webhook work in the background: the task loads ids and calls `plugin.merchant_webhooks.delivery`."""

from __future__ import annotations

from plugin.merchant_webhooks import delivery
from plugin.tasks import task


@task("deliver_webhook")
def deliver_webhook(tenant_id: int, delivery_id: int) -> str:
    return delivery.deliver(tenant_id, delivery_id)
