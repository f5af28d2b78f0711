"""The per-shop suppression list: addresses that unsubscribed from the shop's non-transactional
e-mail (plugin.mail.models.MARKETING_KINDS). `plugin.mail.delivery` asks `is_suppressed` right
before sending each such message, so no sender can go around it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.db import session_scope
from plugin.identity import normalize_email
from plugin.mail.models import MARKETING_KINDS, EmailSuppression, OutboundEmail
from plugin.tenants.models import Tenant


def is_suppressed(session: Session, tenant_id: int, email: str) -> bool:
    key = normalize_email(email)
    return bool(key) and (
        session.scalar(
            select(EmailSuppression.id).where(EmailSuppression.tenant_id == tenant_id, EmailSuppression.email == key)
        )
        is not None
    )


def unsubscribe(tenant_id: int, email: str, source: str) -> bool:
    """Add the address to the shop's list; True if it was added now (False: it was there already,
    or the shop is gone). Idempotent under concurrency: the unique key keeps one row."""
    key = normalize_email(email)
    with session_scope(tenant_id) as session:
        if not key or session.get(Tenant, tenant_id) is None:
            return False
        if is_suppressed(session, tenant_id, key):
            return False
        try:
            with session.begin_nested():
                session.add(EmailSuppression(tenant_id=tenant_id, email=key, source=source))
        except IntegrityError:
            return False
    return True


def count_between(session: Session, tenant_id: int, since, until) -> int:
    """Unsubscribes of a shop in [since, until), for the analytics report."""
    return (
        session.scalar(
            select(func.count(EmailSuppression.id)).where(
                EmailSuppression.tenant_id == tenant_id,
                EmailSuppression.created_at >= since,
                EmailSuppression.created_at < until,
            )
        )
        or 0
    )


def suppress_if_unsubscribed(session: Session, email: OutboundEmail) -> bool:
    """Mark a non-transactional message to an unsubscribed address as suppressed; True if it was."""
    if email.kind not in MARKETING_KINDS or not is_suppressed(session, email.tenant_id, email.to_email):
        return False
    email.status = OutboundEmail.SUPPRESSED
    email.last_error = "Not sent: the recipient unsubscribed from these e-mails."
    return True
