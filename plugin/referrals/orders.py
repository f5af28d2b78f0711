"""What happens when Saleor tells us about an order.

webhook stored → read_order() from Saleor with the shop's token → apply_order_event():
    1. remember the order's latest state (reads and payloads arrive out of order)
    2. order reached the trigger status → its buyer becomes an advocate
    3. order carries a friend code or referral_code → attribute it (or say why not)
    4. fraud rules decide: approve (reserve both coupons) / hold / reject
    5. cancelled or refunded → revoke the referral and take unused coupons back
Work for after the commit (creating coupons in Saleor, taking them back, sending e-mail) is
queued with task handles as it arises and published once the caller's transaction commits.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.coupons import giftcards
from plugin.coupons.models import Coupon
from plugin.db import insert_unless_present, utcnow
from plugin.fraud import rules as fraud
from plugin.fraud.context import build_context
from plugin.fraud.explain import attribution_note, decision_summary
from plugin.identity import new_code
from plugin.ledger import move_coupon, move_referral
from plugin.mail.compose import queue_invite
from plugin.merchant_webhooks import events
from plugin.program.experiments import HOLDOUT, assign_variant
from plugin.program.settings import FREE_SHIPPING, Program
from plugin.referrals import lifecycle
from plugin.referrals.models import Advocate, FriendClaim, OrderRecord, Referral
from plugin.referrals.order_records import upsert_order
from plugin.referrals.updates import referral_held
from plugin.tenants.models import Tenant

log = logging.getLogger(__name__)


def apply_order_event(session: Session, tenant: Tenant, program: Program, order: dict, *, friend_check=None) -> None:
    """Decide on `order` as `read_order` returned it (Saleor's word, never a webhook payload)."""
    # With the program on, the order's row is stamped when it first reaches the trigger status.
    record = upsert_order(session, tenant.id, order, program.trigger_status if program.enabled else None)
    _note_coupon_redemption(session, record)
    _note_gift_card_use(session, record, order)
    if not program.enabled:
        if record.attributed is None:
            record.attribution_note = "The referral program was switched off when this order arrived."
        return

    net_paid = record.total - record.total_refunded
    refunded_fully = record.total_refunded > 0 and net_paid <= 0
    if record.reached_trigger_at and not record.cancelled and not refunded_fully and record.email:
        _ensure_advocate(session, tenant, program, record)
    if record.reached_trigger_at and record.attributed is None:
        _attribute(session, tenant, program, record, friend_check)

    referral = session.scalar(select(Referral).where(Referral.order_record_id == record.id).with_for_update())
    if referral is not None and referral.state not in (Referral.REVOKED, Referral.REJECTED):
        reason = lifecycle.revocation_reason(record, program)
        if reason:
            lifecycle.revoke(session, referral, reason)


def _note_coupon_redemption(session: Session, record: OrderRecord) -> None:
    if not record.voucher_code:
        return
    coupon = session.scalar(select(Coupon).where(Coupon.code == record.voucher_code))
    if coupon is None or coupon.state in (Coupon.USED,):
        return
    if coupon.state in (Coupon.ISSUED, Coupon.RESERVED, Coupon.REVOKED):
        coupon.used_at = utcnow()
        if coupon.value_type == FREE_SHIPPING:
            coupon.redeemed_value = record.shipping_discount or Decimal(0)
        else:
            coupon.redeemed_value = (
                coupon.value
                if coupon.value_type == "FIXED"
                else (record.total * coupon.value / (100 - coupon.value) if coupon.value < 100 else record.total)
            )
        move_coupon(session, coupon, Coupon.USED, f"Redeemed on order #{record.number}.")


def _note_gift_card_use(session: Session, record: OrderRecord, order: dict) -> None:
    """Our store-credit gift cards that paid part of this order: remember what has been spent from each."""
    for card in order.get("giftCards") or []:
        if not isinstance(card, dict) or not isinstance(card.get("id"), str):
            continue
        coupon = session.scalar(select(Coupon).where(Coupon.saleor_gift_card_id == card["id"]))
        if coupon is not None:
            giftcards.record_spent(session, coupon, card, f"last on order #{record.number}")


def _ensure_advocate(session: Session, tenant: Tenant, program: Program, record: OrderRecord) -> Advocate:
    query = select(Advocate).where(Advocate.tenant_id == tenant.id, Advocate.email == record.email)
    advocate = session.scalar(query)
    if advocate is None:
        for _ in range(5):
            candidate = Advocate(
                tenant_id=tenant.id,
                email=record.email,
                contact_email=record.contact_email,
                first_name=record.first_name,
                saleor_user_id=record.saleor_user_id,
                code=new_code(),
                locale=record.locale,
                first_order_id=record.saleor_order_id,
                channel_slug=record.channel_slug,
                saleor_channel_id=record.saleor_channel_id,
                currency=record.currency,
            )
            candidate.variant = assign_variant(program, candidate.code)
            created = insert_unless_present(session, candidate)  # clashes on the e-mail or, rarely, the code
            if created is not None:
                advocate = created
                break
            advocate = session.scalar(query)
            if advocate is not None:
                break
        else:
            raise RuntimeError("could not allocate a referral code")
        if advocate is created and advocate.variant != HOLDOUT:
            queue_invite(session, tenant, advocate, program)
            events.advocate_enrolled(session, advocate)
    if not advocate.saleor_user_id and record.saleor_user_id:
        advocate.saleor_user_id = record.saleor_user_id
    if not advocate.first_name and record.first_name:
        advocate.first_name = record.first_name
    return advocate


def _find_referrer(session: Session, record: OrderRecord) -> tuple[Advocate | None, str | None, FriendClaim | None]:
    if record.voucher_code:
        claim = session.scalar(
            select(FriendClaim)
            .join(Coupon, Coupon.id == FriendClaim.coupon_id)
            .where(Coupon.code == record.voucher_code, Coupon.purpose == Coupon.FRIEND_OFFER)
        )
        if claim is not None:
            return session.get(Advocate, claim.advocate_id), "voucher", claim
    if record.referral_code:
        advocate = session.scalar(select(Advocate).where(Advocate.code == record.referral_code))
        if advocate is not None:
            claim = session.scalar(
                select(FriendClaim).where(FriendClaim.advocate_id == advocate.id, FriendClaim.email == record.email)
            )
            return advocate, "metadata", claim
    return None, None, None


def _not_attributed(record: OrderRecord, note: str) -> None:
    record.attributed = False
    record.attribution_note = note


def _attribute(session: Session, tenant: Tenant, program: Program, record: OrderRecord, friend_check) -> None:
    advocate, source, claim = _find_referrer(session, record)
    if advocate is None:
        if record.referral_code or record.voucher_code:
            _not_attributed(
                record,
                f"Not referred: the code on the order ({record.referral_code or record.voucher_code}) "
                "is not a referral code of this shop.",
            )
        else:
            _not_attributed(record, "Not referred: the order carries no referral code or friend voucher.")
        return
    if advocate.erased_at is not None:
        _not_attributed(record, "Not referred: the advocate's data was erased.")
        return
    # Self-referral and "friend not new" are fraud rules (below), so their decision is stored and explained.
    previous = session.scalar(select(Referral.saleor_order_id).where(Referral.friend_email == record.email).limit(1))
    if previous is not None:
        _not_attributed(record, "Not referred: this friend was already referred with an earlier order.")
        return

    ctx = build_context(session, program, advocate, record, claim, friend_check)
    decision = fraud.evaluate(ctx, program.fraud.rules)

    referral = Referral(
        tenant_id=tenant.id,
        advocate_id=advocate.id,
        saleor_order_id=record.saleor_order_id,
        order_record_id=record.id,
        friend_email=record.email,
        friend_contact_email=record.contact_email,
        friend_first_name=record.first_name,
        friend_user_id=record.saleor_user_id,
        channel_slug=record.channel_slug,
        currency=record.currency,
        order_total=record.total,
        source=source,
        variant=advocate.variant,
        decision=decision.action,
        reasons=[f.as_dict() for f in decision.findings],
    )
    try:
        with session.begin_nested():
            session.add(referral)
            move_referral(
                session,
                referral,
                Referral.PENDING,
                f"Attributed to advocate {advocate.code} by {'friend voucher' if source == 'voucher' else 'referral_code metadata'}.",
            )
    except IntegrityError:
        return  # another worker attributed this order concurrently
    record.attributed = True
    record.attribution_note = attribution_note(
        f"Referred by advocate {advocate.code} "
        f"({'friend voucher ' + record.voucher_code if source == 'voucher' else 'referral_code in order metadata'}).",
        decision,
    )
    reasons = decision_summary(decision)
    if decision.action == "block":
        move_referral(session, referral, Referral.REJECTED, reasons, actor="rule")
        return
    if decision.action == "hold":
        move_referral(session, referral, Referral.HELD, reasons, actor="rule")
        referral_held(session, tenant, program, referral)
        return
    if advocate.variant == HOLDOUT:
        move_referral(
            session,
            referral,
            Referral.REJECTED,
            "Advocate is in the A/B holdout group: no offer, no reward.",
            actor="system",
        )
        return
    hold_days = program.hold_days
    if hold_days > 0:
        referral.hold_until = utcnow() + timedelta(days=hold_days)
        note = f"Held for the {hold_days}-day return window."
        if decision.action == "flag":
            note = reasons + " " + note
        move_referral(session, referral, Referral.HELD, note, actor="rule" if decision.action == "flag" else "system")
        referral_held(session, tenant, program, referral)
        return
    lifecycle.approve(session, tenant, program, referral, reason=reasons, actor="rule")
