from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigId, TenantScoped, UTCDateTime, utcnow


class WebhookEvent(TenantScoped, Base):
    """A verified delivery, stored before we answer Saleor.

    Saleor re-sends the very same bytes on retry, so (tenant, event, body hash)
    recognises a redelivery.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "event_type", "body_sha256", name="uq_webhook_event_delivery"),
        Index("ix_webhook_events_pending", "status", "received_at"),
        # Only rows the relay has not handed to the broker yet: stays tiny however large the table.
        Index(
            "ix_webhook_events_unqueued",
            "id",
            postgresql_where=text("queued_at IS NULL"),
            sqlite_where=text("queued_at IS NULL"),
        ),
    )

    PENDING, DONE, FAILED = "pending", "done", "failed"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(255), index=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # handed to the broker by the relay
    redriven_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last time the sweeper re-queued it
