from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigId, TenantScoped, UTCDateTime, utcnow


class OutboundEmail(TenantScoped, Base):
    """An e-mail we owe someone. Written in the same transaction as the reason for it,
    sent by a task, retried until delivered; the unique key makes it once-only."""

    __tablename__ = "outbound_emails"
    __table_args__ = (
        UniqueConstraint("tenant_id", "dedup_key", name="uq_email_dedup"),
        Index("ix_outbound_emails_status", "status", "next_attempt_at"),
    )

    # SUPPRESSED: not sent, the recipient unsubscribed from this kind of e-mail (final).
    PENDING, SENT, FAILED, SUPPRESSED = "pending", "sent", "failed", "suppressed"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id", ondelete="SET NULL"))
    to_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# E-mails people may unsubscribe from: the invitation, the friend's reminder, the advocate's updates.
# Every other e-mail answers something the person did or earned (a code they asked for, a reward, a
# portal link) and goes out regardless, saying why the person receives it.
MARKETING_KINDS = frozenset({"invite", "friend_reminder", "advocate_update"})


class EmailSuppression(TenantScoped, Base):
    """An address that unsubscribed from this shop's non-transactional e-mail (normalised, see
    plugin.identity.normalize_email); plugin.mail.delivery checks it before every such message."""

    __tablename__ = "email_suppressions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email", name="uq_email_suppression"),
        Index("ix_email_suppressions_tenant_created", "tenant_id", "created_at"),
    )

    ONE_CLICK, LINK = "one_click", "link"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(16))  # one_click (RFC 8058 POST) | link (the page's button)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
