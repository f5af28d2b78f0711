"""Referral work in the background: each task loads ids and calls `plugin.referrals.lifecycle`."""

from __future__ import annotations

from plugin.referrals import lifecycle
from plugin.tasks import task


@task("release_holds")
def release_holds(tenant_id: int) -> int:
    return lifecycle.release_holds(tenant_id)
