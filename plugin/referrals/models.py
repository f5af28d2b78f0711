from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, BigId, TenantScoped, UTCDateTime, utcnow

Money = Numeric(18, 4)


class Advocate(TenantScoped, Base):
    """A customer who can refer friends: anyone whose order reached the trigger status."""

    __tablename__ = "advocates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email", name="uq_advocate_email"),
        # Unique across shops: /r/<code> names no shop, so a code must name one advocate.
        UniqueConstraint("code", name="uq_advocate_code"),
        # The A/B report's cohort: advocates who joined in a date range.
        Index("ix_advocates_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))  # normalised (see plugin.referrals.emails)
    contact_email: Mapped[str] = mapped_column(String(320))  # as the customer typed it, for mail
    first_name: Mapped[str] = mapped_column(String(120), default="")
    saleor_user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    code: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    variant: Mapped[str | None] = mapped_column(String(32))  # A/B offer variant, sticky
    first_order_id: Mapped[str | None] = mapped_column(String(255))
    channel_slug: Mapped[str] = mapped_column(String(255), default="")
    saleor_channel_id: Mapped[str] = mapped_column(String(255), default="")
    currency: Mapped[str] = mapped_column(String(3), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FriendClaim(TenantScoped, Base):
    """A friend who claimed an advocate's offer on the landing page: one code per e-mail."""

    __tablename__ = "friend_claims"
    __table_args__ = (
        UniqueConstraint("tenant_id", "advocate_id", "email", name="uq_claim_per_friend"),
        # The reminder sweep reads only claims that asked for a reminder and have not had it.
        Index(
            "ix_friend_claims_reminder_due",
            "tenant_id",
            "id",
            postgresql_where=text("remind_opt_in_at IS NOT NULL AND reminded_at IS NULL"),
            sqlite_where=text("remind_opt_in_at IS NOT NULL AND reminded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    advocate_id: Mapped[int] = mapped_column(ForeignKey("advocates.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    contact_email: Mapped[str] = mapped_column(String(320))
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"), unique=True)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when they asked for the code
    # "Remind me before my code expires": when the friend ticked it (None: no reminder), and when
    # the reminder was written to the outbox (set in the same transaction: once only).
    remind_opt_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    landing_referrer: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(8))  # the language the friend saw the offer in
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    advocate: Mapped[Advocate] = relationship()


class OrderRecord(TenantScoped, Base):
    """The latest state we saw of a Saleor order, and our attribution decision for it."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "saleor_order_id", name="uq_order"),
        Index("ix_orders_tenant_email", "tenant_id", "email"),
        # The analytics report counts the referred orders of a date range.
        Index("ix_orders_tenant_created", "tenant_id", "created_at"),
        # Only refunded orders, for the report's refunds: stays small however many orders there are.
        Index(
            "ix_orders_tenant_refunded",
            "tenant_id",
            "id",
            postgresql_include=["total_refunded"],
            postgresql_where=text("total_refunded <> 0"),
            sqlite_where=text("total_refunded <> 0"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    saleor_order_id: Mapped[str] = mapped_column(String(255))
    number: Mapped[str | None] = mapped_column(String(32))
    channel_slug: Mapped[str] = mapped_column(String(255), default="")
    saleor_channel_id: Mapped[str] = mapped_column(String(255), default="")
    currency: Mapped[str] = mapped_column(String(3), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    first_name: Mapped[str] = mapped_column(String(120), default="")
    saleor_user_id: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    status: Mapped[str] = mapped_column(String(32), default="")
    charge_status: Mapped[str] = mapped_column(String(32), default="")
    is_paid: Mapped[bool] = mapped_column(Boolean, default=False)
    total: Mapped[Decimal] = mapped_column(Money, default=0)
    total_charged: Mapped[Decimal] = mapped_column(Money, default=0)
    total_refunded: Mapped[Decimal] = mapped_column(Money, default=0)
    # Saleor's subtotal.net: lines after every discount, without shipping and tax (commission base).
    subtotal_net: Mapped[Decimal | None] = mapped_column(Money)
    # What vouchers took off the shipping (undiscountedShippingPrice − shippingPrice.gross).
    shipping_discount: Mapped[Decimal | None] = mapped_column(Money)
    voucher_code: Mapped[str | None] = mapped_column(String(255), index=True)
    referral_code: Mapped[str | None] = mapped_column(String(64))
    shipping_fingerprint: Mapped[str | None] = mapped_column(String(64))
    saleor_updated_at: Mapped[str | None] = mapped_column(String(64))
    reached_trigger_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Attribution: None = not decided yet; the note says why (not) in plain words.
    attributed: Mapped[bool | None] = mapped_column(Boolean)
    attribution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Referral(TenantScoped, Base):
    """A friend's first paid order attributed to an advocate; the unit rewards hang on."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "saleor_order_id", name="uq_referral_order"),
        Index("ix_referrals_tenant_created", "tenant_id", "created_at"),
        Index("ix_referrals_tenant_state", "tenant_id", "state"),
        # "Was this friend referred before?" on every referred order, and the reminders' join.
        Index("ix_referrals_tenant_friend_email", "tenant_id", "friend_email"),
        # The advocate's counted friends (tiers, milestones) and the fraud rules' reward velocity.
        Index("ix_referrals_advocate_state", "advocate_id", "state"),
        # Every pass over an order looks for its referral (and locks it).
        Index("ix_referrals_order_record", "order_record_id"),
    )

    # Ledger states (issue: pending → held → approved → issued → used → revoked).
    PENDING, HELD, FLAGGED, APPROVED, ISSUED, REVOKED, REJECTED = (
        "pending",
        "held",
        "flagged",
        "approved",
        "issued",
        "revoked",
        "rejected",
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    advocate_id: Mapped[int] = mapped_column(ForeignKey("advocates.id", ondelete="CASCADE"), index=True)
    saleor_order_id: Mapped[str] = mapped_column(String(255))
    order_record_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    friend_email: Mapped[str] = mapped_column(String(320))
    friend_contact_email: Mapped[str] = mapped_column(String(320))
    friend_first_name: Mapped[str] = mapped_column(String(120), default="")
    friend_user_id: Mapped[str | None] = mapped_column(String(255))
    channel_slug: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    order_total: Mapped[Decimal] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(16))  # "voucher" | "metadata"
    variant: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    decision: Mapped[str] = mapped_column(String(8), default="allow")  # allow|flag|hold|block
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # [{rule, action, reason}]
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shortfall: Mapped[Decimal] = mapped_column(Money, default=0)  # used rewards we could not recall
    # The advocate's rewarded friends, this one included, when it was approved: it picks the tier.
    friend_rank: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    advocate: Mapped[Advocate] = relationship()


class LedgerEntry(TenantScoped, Base):
    """Every state change of a referral or coupon: when, why, and who (rule, merchant, system)."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(255), default="system")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral: Mapped[Referral | None] = relationship()
