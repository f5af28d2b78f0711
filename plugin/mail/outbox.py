"""The outbox: e-mails written to the database in the same transaction as their reason, and sent
by a task once that transaction commits (`plugin.mail.delivery` does the sending)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from plugin.db import insert_unless_present, utcnow
from plugin.mail.models import OutboundEmail
from plugin.mail.tasks import send_email, send_pending_emails


def queue_email(
    session: Session,
    *,
    tenant_id: int,
    dedup_key: str,
    kind: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    coupon_id: int | None = None,
    not_before: datetime | None = None,
) -> OutboundEmail | None:
    """Insert the rendered message unless one with this key exists; returns the new row or None.
    A new message is sent (with the shop's other due ones) once the caller's transaction commits,
    or, with `not_before`, by the first sweep after that moment."""
    email = OutboundEmail(
        tenant_id=tenant_id,
        dedup_key=dedup_key,
        kind=kind,
        to_email=to,
        subject=subject[:255],
        text_body=text,
        html_body=html,
        coupon_id=coupon_id,
        next_attempt_at=not_before or utcnow(),
    )
    email = insert_unless_present(session, email, "tenant_id", "dedup_key")
    if email is None:
        return None
    send_pending_emails.after_commit(session, tenant_id)
    return email


def requeue(session: Session, email: OutboundEmail) -> None:
    """Send this message again (a merchant's resend, a friend's repeat claim): due now, fresh
    attempts, sent once the caller's transaction commits."""
    email.status = OutboundEmail.PENDING
    email.attempts = 0
    email.next_attempt_at = utcnow()
    send_email.after_commit(session, email.tenant_id, email.id)


def withdraw(session: Session, tenant_id: int, dedup_key: str) -> bool:
    """Drop a message not sent yet (another e-mail now says the same thing); True if one was dropped."""
    result = session.execute(
        delete(OutboundEmail).where(
            OutboundEmail.tenant_id == tenant_id,
            OutboundEmail.dedup_key == dedup_key,
            OutboundEmail.status == OutboundEmail.PENDING,
        )
    )
    return bool(result.rowcount)
