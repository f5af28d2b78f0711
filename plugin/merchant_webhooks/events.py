"""What the merchant's own systems hear about: the payloads of the outbound webhooks.

Called from the ledger (every state change of a referral or reward) and when an advocate is
enrolled, inside the transaction of the change. Payloads carry ids and the facts a CRM needs;
the only personal data is the advocate's and the friend's e-mail (docs/ADMIN_API.md, "Webhooks").
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.links import share_link
from plugin.merchant_webhooks.outbox import emit
from plugin.merchant_webhooks.policy import isoformat
from plugin.referrals.models import Advocate, OrderRecord, Referral

REFERRAL_EVENTS = {
    Referral.PENDING: "referral.attributed",
    Referral.APPROVED: "referral.approved",
    Referral.HELD: "referral.held",
    Referral.REJECTED: "referral.rejected",
    Referral.REVOKED: "referral.revoked",
}
REWARD_EVENTS = {Coupon.ISSUED: "reward.issued", Coupon.REVOKED: "reward.revoked", Coupon.USED: "reward.redeemed"}
# Friend offers (the welcome code a friend claims) are not rewards: their use shows as referral.attributed.
REWARD_PURPOSES = {
    Coupon.REFERRER_REWARD: "advocate",
    Coupon.FRIEND_REWARD: "friend",
    Coupon.MILESTONE_REWARD: "advocate",
}


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value).normalize():f}"


def _decided_by(actor: str) -> str:
    """ "rule", "system" or "merchant": which staff member decided stays in the app's own audit trail."""
    return "merchant" if actor.startswith("merchant") else actor if actor in ("rule", "system") else "system"


def _advocate(advocate: Advocate | None) -> dict | None:
    if advocate is None:
        return None
    return {"id": advocate.id, "code": advocate.code, "email": advocate.contact_email}


def referral_moved(session: Session, referral: Referral, previous: str | None, reason: str, actor: str) -> None:
    event_type = REFERRAL_EVENTS.get(referral.state)
    if event_type is None:
        return

    def data() -> dict:
        if referral.id is None:
            session.flush()
        order = session.get(OrderRecord, referral.order_record_id)
        return {
            "referral": {
                "id": referral.id,
                "state": referral.state,
                "previous_state": previous,
                "reason": reason,
                "decided_by": _decided_by(actor),
                "hold_until": isoformat(referral.hold_until),
                "created_at": isoformat(referral.created_at),
                "order": {
                    "id": referral.saleor_order_id,
                    "number": order.number if order else None,
                    "channel": referral.channel_slug,
                    "currency": referral.currency,
                    "total": _amount(referral.order_total),
                },
                "friend": {"email": referral.friend_contact_email},
                "advocate": _advocate(session.get(Advocate, referral.advocate_id)),
            }
        }

    emit(session, referral.tenant_id, event_type, data)


def reward_moved(session: Session, coupon: Coupon, previous: str, reason: str, actor: str) -> None:
    event_type = REWARD_EVENTS.get(coupon.state)
    if event_type is None or coupon.purpose not in REWARD_PURPOSES:
        return

    def data() -> dict:
        referral = session.get(Referral, coupon.referral_id) if coupon.referral_id else None
        return {
            "reward": {
                "id": coupon.id,
                "state": coupon.state,
                "previous_state": previous,
                "reason": reason,
                "decided_by": _decided_by(actor),
                "recipient": REWARD_PURPOSES[coupon.purpose],
                "milestone": coupon.purpose == Coupon.MILESTONE_REWARD,
                "recipient_email": coupon.recipient_email,
                "code": coupon.code,
                "saleor_voucher_id": coupon.saleor_voucher_id,
                "saleor_gift_card_id": coupon.saleor_gift_card_id,
                "value_type": coupon.value_type,
                "value": _amount(coupon.value),
                "currency": coupon.currency,
                "channel": coupon.channel_slug,
                "min_order": _amount(coupon.min_order),
                "expires_at": isoformat(coupon.expires_at),
                "redeemed_value": _amount(coupon.redeemed_value) if coupon.state == Coupon.USED else None,
                "referral_id": coupon.referral_id,
                "advocate_id": referral.advocate_id if referral else coupon.advocate_id,
                "order_id": referral.saleor_order_id if referral else None,
            }
        }

    emit(session, coupon.tenant_id, event_type, data)


def advocate_enrolled(session: Session, advocate: Advocate) -> None:
    def data() -> dict:
        return {
            "advocate": {
                **_advocate(advocate),
                "locale": advocate.locale,
                "channel": advocate.channel_slug,
                "variant": advocate.variant,
                "first_order_id": advocate.first_order_id,
                "referral_link": share_link(advocate.code),
                "enrolled_at": isoformat(advocate.created_at),
            }
        }

    emit(session, advocate.tenant_id, "advocate.enrolled", data)
