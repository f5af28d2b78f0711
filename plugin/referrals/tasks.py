"""Referral work in the background: each task loads ids and calls `plugin.referrals.lifecycle` or `.reminders`."""

from __future__ import annotations

from plugin.referrals import lifecycle, reminders
from plugin.tasks import task


@task("release_holds")
def release_holds(tenant_id: int) -> int:
    return lifecycle.release_holds(tenant_id)


@task("send_friend_reminders")
def send_friend_reminders(tenant_id: int) -> int:
    return reminders.send_due_reminders(tenant_id)
