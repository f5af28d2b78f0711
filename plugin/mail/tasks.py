"""Mail work in the background: each task loads ids and calls `plugin.mail.delivery`. Both run in
the worker that queued them, right after the task that wrote the messages (the outbox rows are
the durable state; the sweeper sends what a crash left pending)."""

from __future__ import annotations

from plugin.mail import delivery
from plugin.tasks import task


@task("send_email", same_worker=True, last=True)
def send_email(tenant_id: int, email_id: int) -> str:
    return delivery.send_email(tenant_id, email_id)


@task("send_pending_emails", same_worker=True, last=True)
def send_pending_emails(tenant_id: int) -> int:
    return delivery.send_pending(tenant_id)
