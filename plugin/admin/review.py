"""The merchant's review queue: referrals the trust rules held or flagged.

* held    — waiting for a decision (a `hold` rule fired, or the return-window hold);
            approving reserves both coupons and issues them in Saleor.
* flagged — a `flag` rule fired: the rewards went out meanwhile; the merchant
            either keeps them (approve) or takes them back (reject).
Every decision is a ledger entry with `actor = "merchant:<email>"` (see plugin.referrals.lifecycle.decide).
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.http import ApiError
from plugin.referrals import lifecycle
from plugin.referrals.models import Advocate, LedgerEntry, OrderRecord, Referral

QUEUES = ("held", "flagged")
MAX_BULK = 200


def _reviewed_by_merchant():
    return exists().where(LedgerEntry.referral_id == Referral.id, LedgerEntry.actor.like("merchant:%"))


def queue_filter(queue: str):
    if queue == "held":
        return [Referral.state == Referral.HELD]
    # Flagged: a flag rule fired, the rewards went out, and no merchant has looked at it yet.
    flagged = (Referral.state == Referral.FLAGGED) | (
        (Referral.decision == "flag") & Referral.state.in_((Referral.APPROVED, Referral.ISSUED))
    )
    return [flagged, ~_reviewed_by_merchant()]


def list_queue(session: Session, tenant_id: int, queue: str, *, limit: int = 100, before_id: int | None = None) -> dict:
    conditions = [Referral.tenant_id == tenant_id, *queue_filter(queue)]
    if before_id:
        conditions.append(Referral.id < before_id)
    rows = session.execute(
        select(Referral, Advocate, OrderRecord)
        .join(Advocate, Advocate.id == Referral.advocate_id)
        .join(OrderRecord, OrderRecord.id == Referral.order_record_id)
        .where(*conditions)
        .order_by(Referral.id.desc())
        .limit(limit + 1)
    ).all()
    items = [describe(session, referral, advocate, order) for referral, advocate, order in rows[:limit]]
    return {"items": items, "next_before_id": items[-1]["id"] if len(rows) > limit else None}


def describe(session: Session, referral: Referral, advocate: Advocate, order: OrderRecord) -> dict:
    coupons = session.scalars(select(Coupon).where(Coupon.referral_id == referral.id).order_by(Coupon.id)).all()
    ledger = session.scalars(
        select(LedgerEntry).where(LedgerEntry.referral_id == referral.id).order_by(LedgerEntry.id)
    ).all()
    return {
        "id": referral.id,
        "state": referral.state,
        "decision": referral.decision,
        "reasons": [
            {"rule": r.get("rule"), "action": r.get("action"), "reason": r.get("reason")}
            for r in (referral.reasons or [])
            if isinstance(r, dict)
        ],
        "created_at": referral.created_at.isoformat(),
        "hold_until": referral.hold_until.isoformat() if referral.hold_until else None,
        "channel": referral.channel_slug,
        "currency": referral.currency,
        "order_total": f"{referral.order_total:.2f}",
        "order": {
            "id": order.saleor_order_id,
            "number": order.number,
            "status": order.status,
            "refunded": f"{order.total_refunded:.2f}",
            "cancelled": order.cancelled,
        },
        "friend": {"email": referral.friend_contact_email, "name": referral.friend_first_name},
        "advocate": {
            "id": advocate.id,
            "code": advocate.code,
            "email": None if advocate.erased_at else advocate.contact_email,
            "name": None if advocate.erased_at else advocate.first_name,
        },
        "source": referral.source,
        "variant": referral.variant,
        "coupons": [
            {
                "id": c.id,
                "purpose": c.purpose,
                "code": c.code,
                "state": c.state,
                "value_type": c.value_type,
                "value": f"{c.value.normalize():f}",
                "currency": c.currency,
            }
            for c in coupons
        ],
        "history": [
            {"at": e.at.isoformat(), "from": e.from_state, "to": e.to_state, "reason": e.reason, "actor": e.actor}
            for e in ledger
        ],
    }


def decide(tenant_id: int, referral_ids: list[int], action: str, *, actor: str, note: str = "") -> list[dict]:
    """Approve or reject referrals; each in its own transaction so one failure does not undo the others."""
    results = []
    for referral_id in referral_ids:
        try:
            decision = lifecycle.decide(tenant_id, referral_id, action, actor=actor, note=note)
        except ApiError as exc:
            results.append({"id": referral_id, "ok": False, "error": {"code": exc.code, "message": exc.message}})
            continue
        results.append({"id": referral_id, "ok": True, "state": decision.state, "message": decision.message})
    return results
