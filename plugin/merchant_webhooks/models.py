"""Outbound webhooks: the merchant's endpoints, the events we owe them, and every attempt.

A `WebhookMessage` is written in the same transaction as the change it describes, with one
`WebhookDelivery` per endpoint that wants it; the delivery is retried until the endpoint
answers 2xx or its retry window ends. The message body is stored once and sent byte for byte.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigId, TenantScoped, UTCDateTime, utcnow


class WebhookEndpoint(TenantScoped, Base):
    """An HTTPS URL of the merchant's own system (CRM, e-mail marketing, data warehouse)."""

    __tablename__ = "outbound_endpoints"
    __table_args__ = (UniqueConstraint("tenant_id", "url", name="uq_outbound_endpoint_url"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(255), default="")
    event_types: Mapped[list | None] = mapped_column(JSON)  # None: every event, including ones added later
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)  # "whsec_…", Fernet (plugin.tenants.crypto)
    # After a rotation the old secret signs too (a second signature) until this time.
    previous_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # Health: the first failure since the last success, and how many failed in a row.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def wants(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


class WebhookMessage(TenantScoped, Base):
    """One event, as it will be sent: `msg_id` is the `webhook-id` header, `body` the exact bytes."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("msg_id", name="uq_outbound_message_id"),
        Index("ix_outbound_messages_created", "created_at"),  # the sweeper prunes old events
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(TenantScoped, Base):
    """A message owed to one endpoint: pending until a 2xx, failed when its retry window ended."""

    __tablename__ = "outbound_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "endpoint_id", name="uq_outbound_delivery"),
        Index("ix_outbound_deliveries_due", "status", "next_attempt_at"),
        Index("ix_outbound_deliveries_endpoint", "endpoint_id", "id"),
    )

    PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbound_messages.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("outbound_endpoints.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)  # end of the retry window
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redriven_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last time the sweeper re-queued it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookAttempt(TenantScoped, Base):
    """One HTTP request of a delivery, for the merchant's delivery log."""

    __tablename__ = "outbound_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("outbound_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str] = mapped_column(Text, default="")  # the first bytes only
    duration_ms: Mapped[int] = mapped_column(default=0)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
