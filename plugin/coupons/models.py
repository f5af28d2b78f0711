from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigId, TenantScoped, UTCDateTime, utcnow


class Coupon(TenantScoped, Base):
    """A Saleor voucher code we mint. The row (and its code) is reserved *before*
    Saleor is called, so every retry sends the same code."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code", name="uq_coupon_code"),
        # One referrer reward and one friend reward per referral, whatever arrives twice.
        UniqueConstraint("referral_id", "purpose", name="uq_coupon_per_referral"),
        Index("ix_coupons_tenant_state", "tenant_id", "state"),
    )

    FRIEND_OFFER, REFERRER_REWARD, FRIEND_REWARD = "friend_offer", "referrer_reward", "friend_reward"
    RESERVED, ISSUED, USED, REVOKED, CANCELLED = "reserved", "issued", "used", "revoked", "cancelled"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"))
    advocate_id: Mapped[int | None] = mapped_column(ForeignKey("advocates.id", ondelete="CASCADE"), index=True)
    recipient_email: Mapped[str] = mapped_column(String(320))
    code: Mapped[str] = mapped_column(String(64))
    channel_slug: Mapped[str] = mapped_column(String(255))
    saleor_channel_id: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    value_type: Mapped[str] = mapped_column(String(16))  # FIXED | PERCENTAGE
    value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    min_order: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=RESERVED)
    saleor_voucher_id: Mapped[str | None] = mapped_column(String(255))
    saleor_code_id: Mapped[str | None] = mapped_column(String(255))
    issue_attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    redriven_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last time the sweeper re-queued it
    redeemed_value: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
