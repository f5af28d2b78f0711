"""The merchant's review queue: referrals the trust rules held or flagged.

* held    — waiting for a decision (a `hold` rule fired, or the return-window hold);
            approving reserves both coupons and issues them in Saleor.
* flagged — a `flag` rule fired: the rewards went out meanwhile; the merchant
            either keeps them (approve) or takes them back (reject).
Every decision is a ledger entry with `actor = "merchant:<email>"`.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.db import serialized, session_scope
from plugin.program.settings import load_program
from plugin.referrals import lifecycle
from plugin.referrals.models import Advocate, LedgerEntry, OrderRecord, Referral
from plugin.referrals.order_records import read_order, upsert_order
from plugin.saleor.client import SaleorError, SaleorUnavailable
from plugin.tenants.models import Tenant

QUEUES = ("held", "flagged")
MAX_BULK = 200
# HTTP status of a single decision's error; every other refusal is a 409.
ERROR_STATUSES = {"NOT_FOUND": 404, "SALEOR_UNAVAILABLE": 503, "SALEOR_REFUSED": 502}


class ReviewError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Decision:
    referral_id: int
    state: str
    message: str


def _reviewed_by_merchant():
    return exists().where(LedgerEntry.referral_id == Referral.id, LedgerEntry.actor.like("merchant:%"))


def queue_filter(queue: str):
    if queue == "held":
        return [Referral.state == Referral.HELD]
    # Flagged: a flag rule fired, the rewards went out, and no merchant has looked at it yet.
    flagged = (Referral.state == Referral.FLAGGED) | (
        (Referral.decision == "flag") & Referral.state.in_((Referral.APPROVED, Referral.ISSUED)))
    return [flagged, ~_reviewed_by_merchant()]


def list_queue(session: Session, tenant_id: int, queue: str, *, limit: int = 100, before_id: int | None = None) -> dict:
    conditions = [Referral.tenant_id == tenant_id, *queue_filter(queue)]
    if before_id:
        conditions.append(Referral.id < before_id)
    rows = session.execute(
        select(Referral, Advocate, OrderRecord)
        .join(Advocate, Advocate.id == Referral.advocate_id)
        .join(OrderRecord, OrderRecord.id == Referral.order_record_id)
        .where(*conditions).order_by(Referral.id.desc()).limit(limit + 1)
    ).all()
    items = [describe(session, referral, advocate, order) for referral, advocate, order in rows[:limit]]
    return {"items": items, "next_before_id": items[-1]["id"] if len(rows) > limit else None}


def describe(session: Session, referral: Referral, advocate: Advocate, order: OrderRecord) -> dict:
    coupons = session.scalars(select(Coupon).where(Coupon.referral_id == referral.id).order_by(Coupon.id)).all()
    ledger = session.scalars(select(LedgerEntry).where(LedgerEntry.referral_id == referral.id)
                             .order_by(LedgerEntry.id)).all()
    return {
        "id": referral.id,
        "state": referral.state,
        "decision": referral.decision,
        "reasons": [{"rule": r.get("rule"), "action": r.get("action"), "reason": r.get("reason")}
                    for r in (referral.reasons or []) if isinstance(r, dict)],
        "created_at": referral.created_at.isoformat(),
        "hold_until": referral.hold_until.isoformat() if referral.hold_until else None,
        "channel": referral.channel_slug,
        "currency": referral.currency,
        "order_total": f"{referral.order_total:.2f}",
        "order": {"id": order.saleor_order_id, "number": order.number, "status": order.status,
                  "refunded": f"{order.total_refunded:.2f}", "cancelled": order.cancelled},
        "friend": {"email": referral.friend_contact_email, "name": referral.friend_first_name},
        "advocate": {"id": advocate.id, "code": advocate.code,
                     "email": None if advocate.erased_at else advocate.contact_email,
                     "name": None if advocate.erased_at else advocate.first_name},
        "source": referral.source,
        "variant": referral.variant,
        "coupons": [{"id": c.id, "purpose": c.purpose, "code": c.code, "state": c.state, "value_type": c.value_type,
                     "value": f"{c.value.normalize():f}", "currency": c.currency} for c in coupons],
        "history": [{"at": e.at.isoformat(), "from": e.from_state, "to": e.to_state, "reason": e.reason,
                     "actor": e.actor} for e in ledger],
    }


AWAITING_APPROVAL = (Referral.HELD, Referral.FLAGGED, Referral.PENDING)


def _approve(session: Session, tenant: Tenant, referral: Referral, actor: str, note: str,
             saleor_order: dict | None) -> Decision:
    if referral.state in AWAITING_APPROVAL:
        if saleor_order is None or saleor_order["id"] != referral.saleor_order_id:
            raise ReviewError(409, "REFERRAL_CHANGED", "The referral changed meanwhile; reload and try again.")
        order = session.get(OrderRecord, referral.order_record_id)
        program = load_program(session, tenant.id)
        why_not = lifecycle.revocation_reason(order, program)
        if why_not:
            raise ReviewError(409, "ORDER_NO_LONGER_QUALIFIES", why_not)
        lifecycle.approve(session, tenant, program, referral, reason=note or "Approved by the merchant.", actor=actor)
        return Decision(referral.id, referral.state, "Approved: both rewards are being created.")
    if referral.state in (Referral.APPROVED, Referral.ISSUED) and referral.decision == "flag":
        # Rewards already went out; record that a person looked and kept them.
        session.add(LedgerEntry(tenant_id=tenant.id, referral_id=referral.id, from_state=referral.state,
                                to_state=referral.state, reason=note or "Reviewed by the merchant: rewards kept.",
                                actor=actor))
        return Decision(referral.id, referral.state, "Kept: the rewards stay.")
    raise ReviewError(409, "NOT_REVIEWABLE", f"This referral is {referral.state}; there is nothing to approve.")


def _reject(session: Session, tenant: Tenant, referral: Referral, actor: str, note: str) -> Decision:
    if referral.state in (Referral.REJECTED, Referral.REVOKED):
        raise ReviewError(409, "NOT_REVIEWABLE", f"This referral is already {referral.state}.")
    had_coupons = referral.state in (Referral.APPROVED, Referral.ISSUED)
    lifecycle.reject(session, referral, note or "Rejected by the merchant.", actor=actor)
    message = "Rejected: unused rewards are being taken back." if had_coupons else "Rejected: no reward will be issued."
    return Decision(referral.id, referral.state, message)


def decide(tenant_id: int, referral_ids: list[int], action: str, *, actor: str, note: str = "") -> list[dict]:
    """Approve or reject referrals; each in its own transaction so one failure does not undo the others."""
    results = []
    for referral_id in referral_ids:
        try:
            decision = _decide_one(tenant_id, referral_id, action, actor=actor, note=note)
        except ReviewError as exc:
            results.append({"id": referral_id, "ok": False, "error": {"code": exc.code, "message": exc.message}})
            continue
        results.append({"id": referral_id, "ok": True, "state": decision.state, "message": decision.message})
    return results


def _decide_one(tenant_id: int, referral_id: int, action: str, *, actor: str, note: str) -> Decision:
    saleor_order = _order_from_saleor(tenant_id, referral_id) if action == "approve" else None
    with session_scope(tenant_id) as session, serialized(session):
        if saleor_order is not None:
            # Saleor's answer replaces what we had (a refund whose webhook we missed shows here);
            # the order's lock is taken before the referral's, as the event pipeline takes them.
            upsert_order(session, tenant_id, saleor_order)
        referral = session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update())
        if referral is None:
            raise ReviewError(404, "NOT_FOUND", "No such referral in this shop.")
        tenant = session.get(Tenant, tenant_id)
        if action != "approve":
            return _reject(session, tenant, referral, actor, note)
        try:
            return _approve(session, tenant, referral, actor, note, saleor_order)
        except ReviewError as exc:
            refusal = exc  # raised after the commit: Saleor's fresh state of the order is kept
    raise refusal


def _order_from_saleor(tenant_id: int, referral_id: int) -> dict | None:
    """The friend's order as Saleor shows it now, for a referral awaiting approval (read outside
    any lock); None when approving would not move money (nothing to confirm)."""
    with session_scope(tenant_id) as session:
        referral = session.get(Referral, referral_id)
        if referral is None or referral.state not in AWAITING_APPROVAL:
            return None
        tenant = session.get(Tenant, tenant_id)
    if not tenant.is_installed:
        raise ReviewError(409, "NOT_INSTALLED", "The app is not installed in this shop; nothing can be issued.")
    try:
        order = read_order(tenant, referral.saleor_order_id)
    except SaleorUnavailable:
        raise ReviewError(503, "SALEOR_UNAVAILABLE",
                          "Saleor did not answer, so the order could not be confirmed; try again later.") from None
    except SaleorError:
        raise ReviewError(502, "SALEOR_REFUSED",
                          "Saleor refused to show the order to the app, so it could not be confirmed.") from None
    if order is None:
        raise ReviewError(409, "ORDER_NOT_IN_SALEOR", "Saleor does not show this order to the app; "
                                                      "no reward can be issued for it.")
    return order
