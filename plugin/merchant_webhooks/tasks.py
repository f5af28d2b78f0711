from __future__ import annotations

from plugin import tasks
from plugin.merchant_webhooks.delivery import deliver


@tasks.task("deliver_webhook")
def deliver_webhook(tenant_id: int, delivery_id: int) -> str:
    return deliver(tenant_id, delivery_id)
