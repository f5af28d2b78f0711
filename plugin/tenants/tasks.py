"""Shop work in the background: the task loads ids and calls `plugin.tenants.service`."""

from __future__ import annotations

from plugin.tasks import task
from plugin.tenants import service


@task("refresh_shop_name")
def refresh_shop_name(tenant_id: int) -> str:
    return service.refresh_shop_name(tenant_id)
