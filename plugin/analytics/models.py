from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigId, TenantScoped, UTCDateTime, utcnow


class FunnelEvent(TenantScoped, Base):
    """Top-of-funnel facts we cannot read back from Saleor: widget views, shares, clicks, claims."""

    __tablename__ = "funnel_events"
    __table_args__ = (Index("ix_funnel_tenant_kind_at", "tenant_id", "kind", "at"),)

    WIDGET_VIEW, SHARE, CLICK, CLAIM = "widget_view", "share", "click", "claim"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    advocate_id: Mapped[int | None] = mapped_column(index=True)
    channel_slug: Mapped[str | None] = mapped_column(String(255))
    share_channel: Mapped[str | None] = mapped_column(String(32))
    variant: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
