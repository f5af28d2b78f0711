"""The outbox: e-mails written to the database in the same transaction as their reason, and sent
by a task once that transaction commits (`plugin.mail.delivery` does the sending)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.db import utcnow
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
) -> OutboundEmail | None:
    """Insert the rendered message unless one with this key exists; returns the new row or None.
    A new message is sent (with the shop's other due ones) once the caller's transaction commits."""
    existing = session.scalar(
        select(OutboundEmail).where(OutboundEmail.tenant_id == tenant_id, OutboundEmail.dedup_key == dedup_key)
    )
    if existing is not None:
        return None
    email = OutboundEmail(
        tenant_id=tenant_id,
        dedup_key=dedup_key,
        kind=kind,
        to_email=to,
        subject=subject[:255],
        text_body=text,
        html_body=html,
        coupon_id=coupon_id,
    )
    try:
        with session.begin_nested():
            session.add(email)
    except IntegrityError:
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
