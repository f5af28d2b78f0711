"""E-mails the merchant may need to look at: failed ones, and resending any of them.

An e-mail failing never loses a coupon: the coupon exists in Saleor and the
message stays in the outbox, so the merchant can send it again from here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.http import ApiError
from plugin.mail.models import OutboundEmail
from plugin.mail.outbox import requeue

STATUSES = (OutboundEmail.FAILED, OutboundEmail.PENDING, OutboundEmail.SENT, OutboundEmail.SUPPRESSED)


def list_emails(session: Session, tenant_id: int, status: str, *, limit: int = 100) -> list[dict]:
    rows = session.execute(
        select(OutboundEmail, Coupon.code, Coupon.state)
        .outerjoin(Coupon, Coupon.id == OutboundEmail.coupon_id)
        .where(OutboundEmail.tenant_id == tenant_id, OutboundEmail.status == status)
        .order_by(OutboundEmail.id.desc())
        .limit(limit)
    ).all()
    return [describe(email, code, coupon_state) for email, code, coupon_state in rows]


def describe(email: OutboundEmail, coupon_code: str | None = None, coupon_state: str | None = None) -> dict:
    return {
        "id": email.id,
        "kind": email.kind,
        "to": email.to_email,
        "subject": email.subject,
        "status": email.status,
        "attempts": email.attempts,
        "last_error": email.last_error,
        "created_at": email.created_at.isoformat(),
        "sent_at": email.sent_at.isoformat() if email.sent_at else None,
        "coupon_code": coupon_code,
        "coupon_state": coupon_state,
    }


def resend(tenant_id: int, email_id: int) -> dict:
    """Put the message back in the queue and send it now (a task; SMTP may still be down)."""
    with session_scope(tenant_id) as session:
        email = session.scalar(select(OutboundEmail).where(OutboundEmail.id == email_id).with_for_update())
        if email is None:
            raise ApiError(404, "NOT_FOUND", "No such e-mail in this shop.")
        if email.coupon_id is not None:
            coupon = session.get(Coupon, email.coupon_id)
            if coupon is not None and coupon.state in (Coupon.REVOKED, Coupon.CANCELLED):
                raise ApiError(
                    409,
                    "COUPON_REVOKED",
                    f"The coupon in this e-mail was {coupon.state}; sending it would only confuse.",
                )
        requeue(session, email)
    with session_scope(tenant_id) as session:
        email = session.get(OutboundEmail, email_id)
        return describe(email)
