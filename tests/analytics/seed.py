"""Rows of a known scenario, written straight to the database (the pipeline has its own tests)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from plugin.analytics.models import FunnelEvent
from plugin.coupons.models import Coupon
from plugin.referrals.models import Advocate, OrderRecord, Referral

_ids = itertools.count(1)
NOW = datetime.now(UTC)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def advocate(session, tenant_id, email, *, channel="default-channel", currency="USD", variant=None, created=None):
    row = Advocate(
        tenant_id=tenant_id,
        email=email,
        contact_email=email,
        first_name=email.split("@")[0].title(),
        code=f"ADV{next(_ids)}",
        channel_slug=channel,
        saleor_channel_id="Q2g=",
        currency=currency,
        variant=variant,
        created_at=created or days_ago(10),
    )
    session.add(row)
    session.flush()
    return row


def events(
    session, tenant_id, kind, count, *, channel="default-channel", at=None, share_channel=None, advocate_id=None
):
    for _ in range(count):
        session.add(
            FunnelEvent(
                tenant_id=tenant_id,
                kind=kind,
                at=at or days_ago(2),
                channel_slug=channel,
                share_channel=share_channel,
                advocate_id=advocate_id,
            )
        )


def order(
    session,
    tenant_id,
    email,
    total,
    *,
    channel="default-channel",
    currency="USD",
    refunded="0",
    referral_code=None,
    voucher_code=None,
    created=None,
    attributed=True,
    cancelled=False,
):
    n = next(_ids)
    row = OrderRecord(
        tenant_id=tenant_id,
        saleor_order_id=f"T3JkZXI6{n}",
        number=str(n),
        channel_slug=channel,
        currency=currency,
        email=email,
        contact_email=email,
        total=Decimal(total),
        total_charged=Decimal(total),
        total_refunded=Decimal(refunded),
        is_paid=True,
        referral_code=referral_code,
        voucher_code=voucher_code,
        attributed=attributed,
        cancelled=cancelled,
        created_at=created or days_ago(2),
    )
    session.add(row)
    session.flush()
    return row


def referral(session, tenant_id, adv, order_row, state, *, decision="allow", created=None, variant=None):
    row = Referral(
        tenant_id=tenant_id,
        advocate_id=adv.id,
        saleor_order_id=order_row.saleor_order_id,
        order_record_id=order_row.id,
        friend_email=order_row.email,
        friend_contact_email=order_row.email,
        channel_slug=order_row.channel_slug,
        currency=order_row.currency,
        order_total=order_row.total,
        source="metadata",
        state=state,
        decision=decision,
        variant=variant if variant else adv.variant,
        created_at=created or order_row.created_at,
    )
    session.add(row)
    session.flush()
    return row


def coupon(
    session,
    tenant_id,
    purpose,
    value_type,
    value,
    state,
    *,
    ref=None,
    adv=None,
    currency="USD",
    channel="default-channel",
    redeemed="0",
    issued=True,
    code=None,
):
    row = Coupon(
        tenant_id=tenant_id,
        purpose=purpose,
        referral_id=ref.id if ref else None,
        advocate_id=adv.id if adv is not None and purpose != Coupon.FRIEND_REWARD else None,
        recipient_email="someone@example.com",
        code=code or f"CODE-{next(_ids)}",
        channel_slug=channel,
        saleor_channel_id="Q2g=",
        currency=currency,
        value_type=value_type,
        value=Decimal(value),
        state=state,
        redeemed_value=Decimal(redeemed),
        issued_at=days_ago(1) if issued else None,
    )
    session.add(row)
    session.flush()
    return row
