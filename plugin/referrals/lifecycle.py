"""A referral after attribution: approved (both rewards reserved, then issued), revoked or
rejected (rewards taken back), held until its hold period ends.

Every move is a ledger entry. Work for Saleor happens in tasks queued with `after_commit`,
so it starts once the decision is committed, and never for a decision that rolled back.
"""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.coupons import service as coupons
from plugin.coupons.models import Coupon
from plugin.coupons.tasks import issue_coupon, revoke_referral
from plugin.db import serialized, session_scope, utcnow
from plugin.i18n import money
from plugin.program.settings import Program, load_program
from plugin.program.experiments import variant_rewards
from plugin.ledger import move_referral
from plugin.referrals.models import Advocate, OrderRecord, Referral
from plugin.referrals.order_records import read_order, upsert_order
from plugin.saleor.client import SaleorError
from plugin.tenants.models import Tenant

log = logging.getLogger(__name__)

RELEASE_BATCH = 200  # due holds per run (one Saleor read each); the sweeper comes back for the rest


def approve(session: Session, tenant: Tenant, program: Program, referral: Referral, *, reason: str,
            actor: str) -> list[Coupon]:
    """Approve a referral and reserve both coupons; each is created in Saleor once this commits."""
    move_referral(session, referral, Referral.APPROVED, reason, actor=actor)
    advocate = session.get(Advocate, referral.advocate_id)
    order = session.get(OrderRecord, referral.order_record_id)
    rewards = program.rewards_for(referral.channel_slug)
    referrer_spec, friend_spec = variant_rewards(program, advocate.variant, rewards)
    reserved = []
    for purpose, spec, email, advocate_id in (
        (Coupon.REFERRER_REWARD, referrer_spec, advocate.contact_email, advocate.id),
        (Coupon.FRIEND_REWARD, friend_spec, referral.friend_contact_email, None),
    ):
        coupon = coupons.reserve_coupon(
            session, tenant_id=tenant.id, purpose=purpose, spec=spec, recipient_email=email,
            channel_slug=referral.channel_slug, saleor_channel_id=order.saleor_channel_id, currency=referral.currency,
            expiry_days=rewards.expiry_days, min_order=rewards.min_order, referral_id=referral.id,
            advocate_id=advocate_id,
        )
        issue_coupon.after_commit(session, tenant.id, coupon.id)
        reserved.append(coupon)
    return reserved


def revoke(session: Session, referral: Referral, reason: str, *, actor: str = "system") -> None:
    """The friend's order no longer earns rewards: unused codes are taken back once this commits."""
    move_referral(session, referral, Referral.REVOKED, reason, actor=actor)
    revoke_referral.after_commit(session, referral.tenant_id, referral.id)


def reject(session: Session, referral: Referral, reason: str, *, actor: str) -> None:
    """A person decided against the referral: no reward, and unused codes already out are taken back."""
    move_referral(session, referral, Referral.REJECTED, reason, actor=actor)
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
        return (f"Partial refund: the order's net paid {money(net_paid, record.currency, 'en')} fell below "
                f"the minimum order value {money(min_order, record.currency, 'en')}.")
    return None


def release_holds(tenant_id: int) -> int:
    """Approve referrals whose hold period ended, unless Saleor now shows the order cancelled or
    refunded: each order is read from Saleor first (outside the locks), so a refund whose webhook
    we missed still stops the rewards. An order Saleor cannot confirm now stays held for the next sweep."""
    with session_scope(tenant_id) as session:
        tenant = session.get(Tenant, tenant_id)
        due = session.execute(select(Referral.id, Referral.saleor_order_id).where(
            Referral.state == Referral.HELD, Referral.hold_until.is_not(None), Referral.hold_until <= utcnow(),
        ).order_by(Referral.id).limit(RELEASE_BATCH)).all()
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
            if (referral is None or referral.state != Referral.HELD or referral.hold_until is None
                    or referral.hold_until > utcnow()):
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
