"""A referral after attribution: approved (both rewards reserved, then issued), revoked or
rejected (rewards taken back), held until its hold period ends.

Every move is a ledger entry. Work for Saleor happens in tasks queued with `after_commit`,
so it starts once the decision is committed, and never for a decision that rolled back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.coupons import service as coupons
from plugin.coupons.models import Coupon
from plugin.coupons.tasks import issue_rewards, revoke_referral
from plugin.db import serialized, session_scope, utcnow
from plugin.http import ApiError
from plugin.i18n import money
from plugin.ledger import move_referral
from plugin.program.settings import Program, load_program
from plugin.referrals.models import LedgerEntry, OrderRecord, Referral
from plugin.referrals.order_records import read_order, upsert_order
from plugin.referrals.updates import referral_approved, referral_ended
from plugin.rewards.grant import earned_rewards
from plugin.saleor.client import SaleorError, SaleorUnavailable
from plugin.tenants.models import Tenant

log = logging.getLogger(__name__)

RELEASE_BATCH = 200  # due holds per run (one Saleor read each); the sweeper comes back for the rest


def approve(
    session: Session, tenant: Tenant, program: Program, referral: Referral, *, reason: str, actor: str
) -> list[Coupon]:
    """Approve a referral and reserve its rewards — the friend's, the referrer's for this friend's
    tier, a milestone bonus if this friend reaches one (plugin.rewards.grant); all are created in
    Saleor by one task once this commits."""
    move_referral(session, referral, Referral.APPROVED, reason, actor=actor)
    order = session.get(OrderRecord, referral.order_record_id)
    rewards = program.rewards_for(referral.channel_slug)
    reserved = []
    for earned in earned_rewards(session, program, referral):
        coupon = coupons.reserve_coupon(
            session,
            tenant_id=tenant.id,
            purpose=earned.purpose,
            spec=earned.spec,
            recipient_email=earned.recipient_email,
            channel_slug=referral.channel_slug,
            saleor_channel_id=order.saleor_channel_id,
            currency=referral.currency,
            expiry_days=rewards.expiry_days,
            min_order=rewards.min_order,
            referral_id=referral.id,
            advocate_id=earned.advocate_id,
            award_key=earned.award_key,
            rate=earned.rate,
            base_amount=earned.base_amount,
        )
        if coupon.referral_id == referral.id:  # a milestone paid before belongs to its own referral
            reserved.append(coupon)
    if reserved:
        issue_rewards.after_commit(session, tenant.id, referral.id)
    referral_approved(session, tenant, program, referral, reserved)
    return reserved


def revoke(session: Session, referral: Referral, reason: str, *, actor: str = "system") -> None:
    """The friend's order no longer earns rewards: unused codes are taken back once this commits."""
    move_referral(session, referral, Referral.REVOKED, reason, actor=actor)
    referral_ended(session, referral)
    revoke_referral.after_commit(session, referral.tenant_id, referral.id)


def reject(session: Session, referral: Referral, reason: str, *, actor: str) -> None:
    """A person decided against the referral: no reward, and unused codes already out are taken back."""
    move_referral(session, referral, Referral.REJECTED, reason, actor=actor)
    referral_ended(session, referral)
    revoke_referral.after_commit(session, referral.tenant_id, referral.id)


def revocation_reason(record: OrderRecord, program: Program) -> str | None:
    """Why the friend's order no longer earns rewards, or None if it still does."""
    net_paid = record.total - record.total_refunded
    if record.cancelled:
        return "The friend's order was cancelled."
    if record.total_refunded > 0 and net_paid <= 0:
        return "The friend's order was fully refunded."
    min_order = program.rewards_for(record.channel_slug).min_order
    if record.total_refunded > 0 and net_paid < min_order:
        return (
            f"Partial refund: the order's net paid {money(net_paid, record.currency, 'en')} fell below "
            f"the minimum order value {money(min_order, record.currency, 'en')}."
        )
    return None


def release_holds(tenant_id: int) -> int:
    """Approve referrals whose hold period ended, unless Saleor now shows the order cancelled or
    refunded: each order is read from Saleor first (outside the locks), so a refund whose webhook
    we missed still stops the rewards. An order Saleor cannot confirm now stays held for the next sweep."""
    with session_scope(tenant_id) as session:
        tenant = session.get(Tenant, tenant_id)
        due = session.execute(
            select(Referral.id, Referral.saleor_order_id)
            .where(
                Referral.state == Referral.HELD,
                Referral.hold_until.is_not(None),
                Referral.hold_until <= utcnow(),
            )
            .order_by(Referral.id)
            .limit(RELEASE_BATCH)
        ).all()
    if not due or tenant is None or not tenant.is_installed:
        return 0
    saleor_says: dict[int, dict | None] = {}
    for referral_id, order_id in due:
        try:
            saleor_says[referral_id] = read_order(tenant, order_id)
        except SaleorError as exc:
            log.warning("release_holds for tenant %s paused: %s", tenant_id, exc)
            break  # the rest stay held; the sweeper comes back
    if not saleor_says:
        return 0

    released = 0
    with session_scope(tenant_id) as session, serialized(session):
        tenant = session.get(Tenant, tenant_id)
        program = load_program(session, tenant_id)
        for referral_id, order in saleor_says.items():
            if order is not None:
                upsert_order(session, tenant_id, order)  # the order's lock first, as the event pipeline takes them
            referral = session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update())
            if (
                referral is None
                or referral.state != Referral.HELD
                or referral.hold_until is None
                or referral.hold_until > utcnow()
            ):
                continue
            if order is None:
                reason = "Saleor no longer shows the friend's order to the app."
            else:
                reason = revocation_reason(session.get(OrderRecord, referral.order_record_id), program)
            if reason:
                revoke(session, referral, reason)
                continue
            approve(session, tenant, program, referral, reason="Hold period ended.", actor="system")
            released += 1
    return released


# -- the merchant's review queue --------------------------------------------------------------------


@dataclass
class Decision:
    referral_id: int
    state: str
    message: str


AWAITING_APPROVAL = (Referral.HELD, Referral.FLAGGED, Referral.PENDING)


def _merchant_approves(
    session: Session, tenant: Tenant, referral: Referral, actor: str, note: str, saleor_order: dict | None
) -> Decision:
    if referral.state in AWAITING_APPROVAL:
        if saleor_order is None or saleor_order["id"] != referral.saleor_order_id:
            raise ApiError(409, "REFERRAL_CHANGED", "The referral changed meanwhile; reload and try again.")
        order = session.get(OrderRecord, referral.order_record_id)
        program = load_program(session, tenant.id)
        why_not = revocation_reason(order, program)
        if why_not:
            raise ApiError(409, "ORDER_NO_LONGER_QUALIFIES", why_not)
        approve(session, tenant, program, referral, reason=note or "Approved by the merchant.", actor=actor)
        return Decision(referral.id, referral.state, "Approved: both rewards are being created.")
    if referral.state in (Referral.APPROVED, Referral.ISSUED) and referral.decision == "flag":
        # Rewards already went out; record that a person looked and kept them.
        session.add(
            LedgerEntry(
                tenant_id=tenant.id,
                referral_id=referral.id,
                from_state=referral.state,
                to_state=referral.state,
                reason=note or "Reviewed by the merchant: rewards kept.",
                actor=actor,
            )
        )
        return Decision(referral.id, referral.state, "Kept: the rewards stay.")
    raise ApiError(409, "NOT_REVIEWABLE", f"This referral is {referral.state}; there is nothing to approve.")


def _merchant_rejects(session: Session, referral: Referral, actor: str, note: str) -> Decision:
    if referral.state in (Referral.REJECTED, Referral.REVOKED):
        raise ApiError(409, "NOT_REVIEWABLE", f"This referral is already {referral.state}.")
    had_coupons = referral.state in (Referral.APPROVED, Referral.ISSUED)
    reject(session, referral, note or "Rejected by the merchant.", actor=actor)
    message = "Rejected: unused rewards are being taken back." if had_coupons else "Rejected: no reward will be issued."
    return Decision(referral.id, referral.state, message)


def decide(tenant_id: int, referral_id: int, action: str, *, actor: str, note: str = "") -> Decision:
    """The merchant approves or rejects a referral from the review queue; ApiError says why not.

    Approving a referral that waits moves money, so it rests on the order as Saleor shows it now
    (read first, outside the locks): a refund whose webhook never arrived still stops the rewards.
    A flagged referral whose rewards went out is kept (approve) or taken back (reject)."""
    saleor_order = _order_from_saleor(tenant_id, referral_id) if action == "approve" else None
    with session_scope(tenant_id) as session, serialized(session):
        if saleor_order is not None:
            # Saleor's answer replaces what we had (a refund whose webhook we missed shows here);
            # the order's lock is taken before the referral's, as the event pipeline takes them.
            upsert_order(session, tenant_id, saleor_order)
        referral = session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update())
        if referral is None:
            raise ApiError(404, "NOT_FOUND", "No such referral in this shop.")
        tenant = session.get(Tenant, tenant_id)
        if action != "approve":
            return _merchant_rejects(session, referral, actor, note)
        try:
            return _merchant_approves(session, tenant, referral, actor, note, saleor_order)
        except ApiError as exc:
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
        raise ApiError(409, "NOT_INSTALLED", "The app is not installed in this shop; nothing can be issued.")
    try:
        order = read_order(tenant, referral.saleor_order_id)
    except SaleorUnavailable:
        raise ApiError(
            503, "SALEOR_UNAVAILABLE", "Saleor did not answer, so the order could not be confirmed; try again later."
        ) from None
    except SaleorError:
        raise ApiError(
            502, "SALEOR_REFUSED", "Saleor refused to show the order to the app, so it could not be confirmed."
        ) from None
    if order is None:
        raise ApiError(
            409, "ORDER_NOT_IN_SALEOR", "Saleor does not show this order to the app; no reward can be issued for it."
        )
    return order
