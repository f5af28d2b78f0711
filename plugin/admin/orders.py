"""One Saleor order as the referral program saw it (the order-details widget and API)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.admin.review import describe
from plugin.coupons.models import Coupon
from plugin.mail.compose import coupon_value
from plugin.referrals.models import Advocate, OrderRecord, Referral


def _coupon(c: Coupon) -> dict:
    return {
        "id": c.id,
        "purpose": c.purpose,
        "code": c.code,
        "state": c.state,
        "value_type": c.value_type,
        "value": f"{c.value.normalize():f}",
        "currency": c.currency,
        "recipient": c.recipient_email,
        "value_text": coupon_value(c, "en"),  # the Dashboard is English
        "issued_at": c.issued_at.isoformat() if c.issued_at else None,
        "used_at": c.used_at.isoformat() if c.used_at else None,
        "redeemed_value": f"{c.redeemed_value:.2f}" if c.redeemed_value else None,
        "last_error": c.last_error,
    }


def order_details(session: Session, tenant_id: int, saleor_order_id: str) -> dict | None:
    order = session.scalar(
        select(OrderRecord).where(OrderRecord.tenant_id == tenant_id, OrderRecord.saleor_order_id == saleor_order_id)
    )
    if order is None:
        return None
    referral = session.scalar(select(Referral).where(Referral.order_record_id == order.id))
    referral_data = None
    if referral is not None:
        advocate = session.get(Advocate, referral.advocate_id)
        referral_data = describe(session, referral, advocate, order)
    friend_offer = None
    if order.voucher_code:
        coupon = session.scalar(
            select(Coupon).where(
                Coupon.tenant_id == tenant_id, Coupon.code == order.voucher_code, Coupon.purpose == Coupon.FRIEND_OFFER
            )
        )
        friend_offer = _coupon(coupon) if coupon else None
    rewards = []
    if referral is not None:
        rewards = [
            _coupon(c)
            for c in session.scalars(select(Coupon).where(Coupon.referral_id == referral.id).order_by(Coupon.id))
        ]
    # Did this order make its buyer an advocate?
    became_advocate = None
    advocate = session.scalar(
        select(Advocate).where(Advocate.tenant_id == tenant_id, Advocate.first_order_id == order.saleor_order_id)
    )
    if advocate is not None:
        friends = (
            session.scalar(
                select(func.count(Referral.id)).where(
                    Referral.advocate_id == advocate.id, Referral.state.not_in((Referral.REVOKED, Referral.REJECTED))
                )
            )
            or 0
        )
        became_advocate = {"code": advocate.code, "friends_referred": friends, "variant": advocate.variant}
    if order.attributed is None:
        status = "undecided"
    else:
        status = "referred" if order.attributed else "not_referred"
    return {
        "order": {
            "id": order.saleor_order_id,
            "number": order.number,
            "channel": order.channel_slug,
            "currency": order.currency,
            "total": f"{order.total:.2f}",
            "refunded": f"{order.total_refunded:.2f}",
            "status": order.status,
            "paid": order.is_paid,
            "cancelled": order.cancelled,
            "email": order.contact_email,
            "referral_code": order.referral_code,
            "voucher_code": order.voucher_code,
        },
        "status": status,
        "referred": order.attributed,
        "note": order.attribution_note
        or (
            "We decide once the order reaches the trigger status (e.g. fully paid)." if order.attributed is None else ""
        ),
        "referral": referral_data,
        "friend_offer": friend_offer,
        "rewards": rewards,
        "became_advocate": became_advocate,
    }
