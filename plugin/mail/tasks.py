from __future__ import annotations

import logging

from sqlalchemy import select

from plugin import tasks
from plugin.db import session_scope, utcnow
from plugin.mail.models import OutboundEmail
from plugin.mail.outbox import send_email

log = logging.getLogger(__name__)


@tasks.task("send_email")
def send_email_task(tenant_id: int, email_id: int) -> str:
    return send_email(tenant_id, email_id)


@tasks.task("send_pending_emails")
def send_pending_emails(tenant_id: int) -> int:
    """Send every due e-mail of a tenant (new ones, and retries whose backoff ended)."""
    with session_scope(tenant_id) as session:
        due = session.scalars(select(OutboundEmail.id).where(
            OutboundEmail.status == OutboundEmail.PENDING, OutboundEmail.next_attempt_at <= utcnow(),
        ).order_by(OutboundEmail.id).limit(200)).all()
    for email_id in due:
        try:
            send_email(tenant_id, email_id)
        except Exception:  # noqa: BLE001 - one message must never hold up the others; the sweeper retries it
            log.exception("e-mail %s of tenant %s: sending failed", email_id, tenant_id)
    return len(due)
