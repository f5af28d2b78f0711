"""Creating and taking back coupons in Saleor, one coupon at a time, under its row lock."""
from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select

from plugin import tasks
from plugin.coupons import service
from plugin.coupons.models import Coupon
from plugin.db import serialized, session_scope, utcnow
from plugin.mail.compose import queue_coupon_email
from plugin.program.settings import load_program
from plugin.privacy.pseudonyms import is_pseudonym
from plugin.referrals.ledger import move_referral
from plugin.referrals.models import Advocate, FriendClaim, OrderRecord, Referral
from plugin.saleor.client import SaleorError
from plugin.tenants.models import Tenant
from plugin.tenants.service import saleor_client

log = logging.getLogger(__name__)

LIVE_REFERRAL_STATES = (Referral.APPROVED, Referral.ISSUED)
RELEASE_BATCH = 200  # due holds per run (one Saleor read each); the sweeper comes back for the rest


def _locked_coupon(session, coupon_id: int) -> Coupon | None:
    return session.scalar(select(Coupon).where(Coupon.id == coupon_id).with_for_update())


@tasks.task("issue_coupon")
def issue_coupon(tenant_id: int, coupon_id: int) -> str:
    """Create a reserved coupon in Saleor and queue its e-mail. Safe to repeat and to race
    with a revocation: whichever takes the row lock second sees the other's result."""
    try:
        result = _issue_coupon(tenant_id, coupon_id)
    except Exception as exc:
        _record_failure(tenant_id, coupon_id, exc)  # after the rollback released the row lock
        raise
    if result == "issued":
        tasks.enqueue("send_pending_emails", tenant_id)
    return result


def _issue_coupon(tenant_id: int, coupon_id: int) -> str:
    with session_scope(tenant_id) as session, serialized(session):
        coupon = _locked_coupon(session, coupon_id)
        if coupon is None or coupon.state != Coupon.RESERVED:
            return "skipped"
        tenant = session.get(Tenant, tenant_id)
        # Locked (after the coupon, the order every task takes them in) so a refund that commits
        # while the code is being created waits for us and then revokes what we issued, instead
        # of being overwritten by our "issued".
        referral = session.scalar(select(Referral).where(Referral.id == coupon.referral_id)
                                  .with_for_update()) if coupon.referral_id else None
        if referral is not None and referral.state not in LIVE_REFERRAL_STATES:
            service.revoke(session, saleor_client(tenant), coupon, f"Referral is {referral.state}.")
            return "cancelled"
        if is_pseudonym(coupon.recipient_email):
            service.revoke(session, saleor_client(tenant), coupon, "The recipient's personal data was erased.")
            _settle_referral(session, referral)
            return "cancelled"
        service.issue(session, saleor_client(tenant), coupon,
                      "Created in Saleor." if referral is None else "Reward created in Saleor.")
        program = load_program(session, tenant_id)
        _queue_email(session, tenant, program, coupon, referral)
        _settle_referral(session, referral)
    return "issued"


def _settle_referral(session, referral: Referral | None) -> None:
    """A live referral is issued once each reward exists in Saleor (or was cancelled because
    its recipient's data was erased: the only way a live referral's coupon gets cancelled)."""
    if referral is None:
        return
    siblings = session.scalars(select(Coupon.state).where(Coupon.referral_id == referral.id)).all()
    if len(siblings) == 2 and Coupon.ISSUED in siblings and all(
            s in (Coupon.ISSUED, Coupon.CANCELLED) for s in siblings):
        move_referral(session, referral, Referral.ISSUED, "Both rewards created in Saleor."
                      if all(s == Coupon.ISSUED for s in siblings) else
                      "Reward created in Saleor (the other one was cancelled: recipient's data erased).")


def _queue_email(session, tenant, program, coupon: Coupon, referral: Referral | None) -> None:
    advocate = session.get(Advocate, coupon.advocate_id) if coupon.advocate_id else None
    if coupon.purpose == Coupon.REFERRER_REWARD:
        queue_coupon_email(session, tenant, coupon, program, recipient_name=advocate.first_name if advocate else "",
                           advocate=advocate, locale=advocate.locale if advocate else None)
    elif coupon.purpose == Coupon.FRIEND_REWARD:
        queue_coupon_email(session, tenant, coupon, program, recipient_name=referral.friend_first_name if referral else "",
                           locale=_friend_locale(session, referral))
    else:
        claim = session.scalar(select(FriendClaim).where(FriendClaim.coupon_id == coupon.id))
        advocate = session.get(Advocate, claim.advocate_id) if claim else None
        queue_coupon_email(session, tenant, coupon, program, advocate=advocate,
                           locale=(claim.locale if claim else None) or (advocate.locale if advocate else None))


def _friend_locale(session, referral: Referral | None) -> str | None:
    if referral is None:
        return None
    order = session.get(OrderRecord, referral.order_record_id)
    return order.locale if order else None


def _record_failure(tenant_id: int, coupon_id: int, exc: Exception) -> None:
    with session_scope(tenant_id) as session:
        coupon = session.get(Coupon, coupon_id)
        if coupon is not None:
            coupon.issue_attempts += 1
            coupon.last_error = f"{type(exc).__name__}: {exc}"[:500]


@tasks.task("revoke_referral")
def revoke_referral(tenant_id: int, referral_id: int) -> str:
    """Take back every coupon of a revoked (or rejected) referral; record what was already spent."""
    with session_scope(tenant_id) as session, serialized(session):
        referral = session.get(Referral, referral_id)
        if referral is None or referral.state in LIVE_REFERRAL_STATES:
            return "skipped"
        tenant = session.get(Tenant, tenant_id)
        client = saleor_client(tenant) if tenant.token_encrypted else None
        coupon_ids = session.scalars(select(Coupon.id).where(Coupon.referral_id == referral_id).order_by(Coupon.id)).all()
        shortfall = Decimal(0)
        reason = f"Referral {referral.state}: " + _last_reason(session, referral)
        for coupon_id in coupon_ids:
            coupon = _locked_coupon(session, coupon_id)
            shortfall += service.revoke(session, client, coupon, reason)
        referral = session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update())
        referral.shortfall = shortfall
    return "revoked"


def _last_reason(session, referral: Referral) -> str:
    from plugin.referrals.models import LedgerEntry

    return session.scalar(select(LedgerEntry.reason).where(LedgerEntry.referral_id == referral.id)
                          .order_by(LedgerEntry.id.desc()).limit(1)) or ""


@tasks.task("release_holds")
def release_holds(tenant_id: int) -> int:
    """Approve referrals whose hold period ended, unless Saleor now shows the order cancelled or
    refunded: each order is read from Saleor first (outside the locks), so a refund whose webhook
    we missed still stops the rewards. An order Saleor cannot confirm now stays held for the next sweep."""
    from plugin.referrals.orders import Outcome, approve, read_order, revocation_reason, upsert_order

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

    released = []
    outcome = Outcome()
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
                move_referral(session, referral, Referral.REVOKED, reason)
                outcome.revoked_referral_ids.append(referral.id)
                continue
            approve(session, tenant, program, referral, outcome, reason="Hold period ended.", actor="system")
            released.append(referral.id)
    for coupon_id in outcome.coupon_ids:
        tasks.enqueue("issue_coupon", tenant_id, coupon_id)
    for referral_id in outcome.revoked_referral_ids:
        tasks.enqueue("revoke_referral", tenant_id, referral_id)
    return len(released)
