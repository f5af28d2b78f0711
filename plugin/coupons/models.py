from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigId, TenantScoped, UTCDateTime, utcnow


class Coupon(TenantScoped, Base):
    """A reward in Saleor: a voucher code we mint, or a gift card (store credit, commission).

    The row is reserved *before* Saleor is called, so every retry sends the same voucher code or
    looks for the same gift card (`lookup_key`, stored in the card's metadata: Saleor generates
    gift-card codes itself; `code` becomes the card's code once it exists)."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code", name="uq_coupon_code"),
        # One referrer reward and one friend reward per referral, whatever arrives twice.
        UniqueConstraint("referral_id", "purpose", name="uq_coupon_per_referral"),
        # A milestone bonus is paid once per advocate and milestone ("milestone:<advocate>:<at>").
        UniqueConstraint("tenant_id", "award_key", name="uq_coupon_award"),
        Index("ix_coupons_tenant_state", "tenant_id", "state"),
    )

    FRIEND_OFFER, REFERRER_REWARD, FRIEND_REWARD = "friend_offer", "referrer_reward", "friend_reward"
    MILESTONE_REWARD = "milestone"
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
    # FIXED | PERCENTAGE | FREE_SHIPPING (vouchers) | STORE_CREDIT | COMMISSION (gift cards)
    value_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal] = mapped_column(Numeric(18, 4))  # COMMISSION: the amount paid (after the cap)
    # COMMISSION: the percentage and the order amount it was taken from (subtotal net, see docs/REWARDS.md).
    rate: Mapped[Decimal | None] = mapped_column(Numeric(9, 4))
    base_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    award_key: Mapped[str | None] = mapped_column(String(64))
    lookup_key: Mapped[str | None] = mapped_column(String(64))  # gift cards: our id in the card's metadata
    saleor_gift_card_id: Mapped[str | None] = mapped_column(String(255))
    min_order: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=RESERVED)
    saleor_voucher_id: Mapped[str | None] = mapped_column(String(255))
    saleor_code_id: Mapped[str | None] = mapped_column(String(255))
    issue_attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    redriven_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last time the sweeper re-queued it
    # What customers got from it: a voucher's discount when used, the balance spent from a gift card.
    redeemed_value: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
