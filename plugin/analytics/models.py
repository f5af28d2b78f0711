from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigId, TenantScoped, UTCDateTime, utcnow


class FunnelEvent(TenantScoped, Base):
    """Top-of-funnel facts we cannot read back from Saleor: widget views, shares, clicks, claims."""

    __tablename__ = "funnel_events"
    __table_args__ = (
        # advocate_id rides along so per-advocate counts (top advocates, A/B share rate) are index-only scans.
        Index("ix_funnel_tenant_kind_at", "tenant_id", "kind", "at", postgresql_include=["advocate_id"]),
        # Covers the analytics report's scan of a date range (index-only scan on PostgreSQL).
        Index(
            "ix_funnel_tenant_at_cover", "tenant_id", "at", postgresql_include=["kind", "channel_slug", "share_channel"]
        ),
    )

    WIDGET_VIEW, SHARE, CLICK, CLAIM = "widget_view", "share", "click", "claim"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    advocate_id: Mapped[int | None] = mapped_column(index=True)
    channel_slug: Mapped[str | None] = mapped_column(String(255))
    share_channel: Mapped[str | None] = mapped_column(String(32))
    variant: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))


class FunnelDaily(TenantScoped, Base):
    """FunnelEvent counts of one closed UTC day, written once by the analytics report.

    Events are append-only and stamped with the time they are written, so a day that
    ended more than a day ago no longer changes; reports read these rows for such days
    and scan FunnelEvent only for the last two days. "" stands for a missing channel.
    """

    __tablename__ = "funnel_daily"
    __table_args__ = (
        UniqueConstraint("tenant_id", "day", "channel_slug", "kind", "share_channel", name="uq_funnel_daily"),
        Index("ix_funnel_daily_tenant_day", "tenant_id", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    channel_slug: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16))
    share_channel: Mapped[str] = mapped_column(String(32), default="")
    count: Mapped[int] = mapped_column(default=0)


class AdvocateLastShare(TenantScoped, Base):
    """The last closed UTC day on which an advocate shared, folded from FunnelEvent by the A/B report.

    Like FunnelDaily it relies on events never changing once written: "shared since day D" is
    "last share day >= D" for every day folded (RollupProgress says how far that is), and the
    days after it are read from FunnelEvent.
    """

    __tablename__ = "advocate_last_share"
    __table_args__ = (UniqueConstraint("tenant_id", "advocate_id", name="uq_advocate_last_share"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    advocate_id: Mapped[int]
    day: Mapped[date] = mapped_column(Date)


class RollupProgress(TenantScoped, Base):
    """The last closed day a roll-up has folded in, per shop."""

    __tablename__ = "rollup_progress"
    __table_args__ = (UniqueConstraint("tenant_id", "rollup", name="uq_rollup_progress"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rollup: Mapped[str] = mapped_column(String(32))
    through: Mapped[date] = mapped_column(Date)
