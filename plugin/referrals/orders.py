"""What happens when Saleor tells us about an order.

    webhook stored → read_order() from Saleor with the shop's token → apply_order_event():
        1. remember the order's latest state (reads and payloads arrive out of order)
        2. order reached the trigger status → its buyer becomes an advocate
        3. order carries a friend code or referral_code → attribute it (or say why not)
        4. fraud rules decide: approve (reserve both coupons) / hold / reject
        5. cancelled or refunded → revoke the referral and take unused coupons back
    The caller commits, then issues reserved coupons and sends queued e-mail in tasks.
"""
from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.coupons import service as coupons
from plugin.coupons.models import Coupon
from plugin.db import utcnow
from plugin.fraud import rules as fraud
from plugin.fraud.context import build_context
from plugin.fraud.explain import attribution_note, decision_summary
from plugin.i18n import money, pick_locale
from plugin.mail.compose import queue_invite
from plugin.program.settings import Program
from plugin.referrals import events
from plugin.referrals.identity import canonical_code, fingerprint, new_code, normalize_email
from plugin.referrals.ledger import move_referral
from plugin.referrals.models import Advocate, FriendClaim, OrderRecord, Referral
from plugin.saleor.client import SaleorPermissionDenied
from plugin.tenants.models import Tenant
from plugin.tenants.service import saleor_client

log = logging.getLogger(__name__)

PAID_CHARGE_STATUSES = {"FULL", "OVERCHARGED"}


@dataclass
class Outcome:
    """Work for after the commit: coupons to create in Saleor, e-mails to send."""

    coupon_ids: list[int] = field(default_factory=list)
    revoked_referral_ids: list[int] = field(default_factory=list)
    emails_queued: bool = False


def _money(value) -> Decimal:
    if isinstance(value, dict):
        value = value.get("amount")
    try:
        amount = Decimal(str(value if value is not None else 0))
    except ArithmeticError:
        return Decimal(0)
    # Money columns hold 18 digits with 4 decimals; anything else is not a price.
    return amount if amount.is_finite() and abs(amount) < Decimal("1e13") else Decimal(0)


def _text(value, limit: int) -> str | None:
    """Payload strings as stored: anything else becomes None, overlong text is cut to the column."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value[:limit] if isinstance(value, str) and value else None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _gross(order: dict) -> dict:
    total = order.get("total")
    gross = total.get("gross") if isinstance(total, dict) else None
    return gross if isinstance(gross, dict) else {}


def _was_fully_paid(order: dict) -> bool:
    """Saleor's numbers say the order was paid in full at some point: it is now, or what is still
    charged plus what was refunded covers the total (a refund takes back what was charged, so an
    order refunded before we first read it still shows it was paid)."""
    if order.get("isPaid") or order.get("chargeStatus") in PAID_CHARGE_STATUSES:
        return True
    total = _money(_gross(order))
    return total > 0 and _money(order.get("totalCharged")) + _money(order.get("totalRefunded")) >= total


def reached_trigger(record: OrderRecord, trigger: str) -> bool:
    if trigger == "FULFILLED":
        return record.is_paid and record.status in {"FULFILLED", "PARTIALLY_RETURNED", "RETURNED"}
    return record.is_paid


def _metadata(order: dict, key: str) -> str | None:
    for item in order.get("metadata") or []:
        if isinstance(item, dict) and item.get("key") == key and isinstance(item.get("value"), str):
            return item["value"]
    return None


def names_an_order(order_id: str) -> bool:
    """Whether `order_id` is a Saleor global id of an Order (base64 of "Order:<key>")."""
    try:
        kind, _, key = base64.b64decode(order_id, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return kind == "Order" and bool(key)


def read_order(tenant: Tenant, order_id: str) -> dict | None:
    """The order as Saleor shows it to this shop's app now, in the webhook payload's shape; None
    when Saleor has no such order for our token. Every decision about money rests on this answer.

    Raises `SaleorUnavailable` when Saleor cannot be reached and `SaleorPermissionDenied` when
    Saleor no longer takes our token for our app: the caller retries later, it never guesses.
    Call it outside row locks: a slow Saleor must not hold them.
    """
    if not names_an_order(order_id):
        return None
    answered_as, order = saleor_client(tenant).order(order_id)
    if answered_as is None or answered_as != tenant.app_id:
        raise SaleorPermissionDenied("Saleor did not answer the order read as this shop's app.")
    return order if isinstance(order, dict) and isinstance(order.get("id"), str) else None


def upsert_order(session: Session, tenant_id: int, order: dict) -> OrderRecord:
    """Lock the order's row (creating it if new) and merge Saleor's answer into it.

    Answers show the order when Saleor gave them, and concurrent tasks apply them in any
    order; only one at least as new (`updatedAt`) replaces the state, while facts that
    never un-happen (was paid, was cancelled, amount refunded) are sticky.
    """
    order_id = order["id"]
    query = select(OrderRecord).where(OrderRecord.tenant_id == tenant_id, OrderRecord.saleor_order_id == order_id)
    record = session.scalar(query.with_for_update())
    if record is None:
        try:
            with session.begin_nested():
                record = OrderRecord(tenant_id=tenant_id, saleor_order_id=order_id)
                session.add(record)
        except IntegrityError:  # another worker inserted it first
            record = session.scalar(query.with_for_update())

    user = _dict(order.get("user"))
    address = _dict(order.get("shippingAddress"))
    billing = _dict(order.get("billingAddress"))
    channel = _dict(order.get("channel"))
    updated_at = _text(order.get("updatedAt"), 64) or ""
    newer = not record.saleor_updated_at or updated_at >= record.saleor_updated_at

    contact = (_text(order.get("userEmail"), 320) or _text(user.get("email"), 320) or "").strip()
    if newer or not record.email:
        record.number = _text(order.get("number"), 32) or record.number or ""
        record.channel_slug = _text(channel.get("slug"), 255) or record.channel_slug
        record.saleor_channel_id = _text(channel.get("id"), 255) or record.saleor_channel_id
        record.currency = _text(_gross(order).get("currency") or channel.get("currencyCode"), 3) or record.currency
        record.contact_email = contact or record.contact_email
        record.email = normalize_email(contact) or record.email
        record.first_name = (_text(user.get("firstName"), 120) or _text(billing.get("firstName"), 120)
                             or _text(address.get("firstName"), 120) or record.first_name or "")
        record.saleor_user_id = _text(user.get("id"), 255) or record.saleor_user_id
        record.locale = pick_locale(_text(order.get("languageCodeEnum"), 16), default=record.locale or "en")
        record.total = _money(_gross(order))
        record.voucher_code = (_text(order.get("voucherCode"), 255) or "").strip().upper() or None
        record.referral_code = canonical_code(_metadata(order, "referral_code"))
        if address:
            record.shipping_fingerprint = fingerprint(
                _text(address.get("streetAddress1"), 512), _text(address.get("streetAddress2"), 512),
                _text(address.get("postalCode"), 64), _text(_dict(address.get("country")).get("code"), 8))
    if newer:
        record.saleor_updated_at = updated_at[:64]
        record.status = _text(order.get("status"), 32) or record.status
        record.charge_status = _text(order.get("chargeStatus"), 32) or record.charge_status
        record.total_charged = _money(order.get("totalCharged"))
    record.is_paid = record.is_paid or _was_fully_paid(order)
    record.cancelled = record.cancelled or order.get("status") == "CANCELED"
    record.total_refunded = max(record.total_refunded or Decimal(0), _money(order.get("totalRefunded")))
    return record


def apply_order_event(session: Session, tenant: Tenant, program: Program, order: dict, *,
                      friend_check=None) -> Outcome:
    """Decide on `order` as `read_order` returned it (Saleor's word, never a webhook payload)."""
    outcome = Outcome()
    record = upsert_order(session, tenant.id, order)
    _note_coupon_redemption(session, record)
    if not program.enabled:
        if record.attributed is None:
            record.attribution_note = "The referral program was switched off when this order arrived."
        return outcome

    net_paid = record.total - record.total_refunded
    refunded_fully = record.total_refunded > 0 and net_paid <= 0
    if reached_trigger(record, program.trigger_status) and record.reached_trigger_at is None:
        record.reached_trigger_at = utcnow()
    if record.reached_trigger_at and not record.cancelled and not refunded_fully and record.email:
        _ensure_advocate(session, tenant, program, record)
    if record.reached_trigger_at and record.attributed is None:
        _attribute(session, tenant, program, record, outcome, friend_check)

    referral = session.scalar(select(Referral).where(Referral.order_record_id == record.id).with_for_update())
    if referral is not None and referral.state not in (Referral.REVOKED, Referral.REJECTED):
        reason = revocation_reason(record, program)
        if reason:
            move_referral(session, referral, Referral.REVOKED, reason, actor="system")
            outcome.revoked_referral_ids.append(referral.id)
    return outcome


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


def _note_coupon_redemption(session: Session, record: OrderRecord) -> None:
    if not record.voucher_code:
        return
    coupon = session.scalar(select(Coupon).where(Coupon.code == record.voucher_code))
    if coupon is None or coupon.state in (Coupon.USED,):
        return
    if coupon.state in (Coupon.ISSUED, Coupon.RESERVED, Coupon.REVOKED):
        from plugin.referrals.ledger import move_coupon

        coupon.used_at = utcnow()
        coupon.redeemed_value = coupon.value if coupon.value_type == "FIXED" else (
            record.total * coupon.value / (100 - coupon.value) if coupon.value < 100 else record.total)
        move_coupon(session, coupon, Coupon.USED, f"Redeemed on order #{record.number}.")


def _ensure_advocate(session: Session, tenant: Tenant, program: Program, record: OrderRecord) -> Advocate:
    query = select(Advocate).where(Advocate.tenant_id == tenant.id, Advocate.email == record.email)
    advocate = session.scalar(query)
    if advocate is None:
        for _ in range(5):
            candidate = Advocate(
                tenant_id=tenant.id, email=record.email, contact_email=record.contact_email,
                first_name=record.first_name, saleor_user_id=record.saleor_user_id, code=new_code(),
                locale=record.locale, first_order_id=record.saleor_order_id, channel_slug=record.channel_slug,
                saleor_channel_id=record.saleor_channel_id, currency=record.currency,
            )
            from plugin.referrals.experiments import assign_variant

            candidate.variant = assign_variant(program, candidate.code)
            try:
                with session.begin_nested():
                    session.add(candidate)
                advocate = candidate
                break
            except IntegrityError:
                advocate = session.scalar(query)
                if advocate is not None:
                    break
        else:
            raise RuntimeError("could not allocate a referral code")
        if advocate is candidate and advocate.variant != "holdout":
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
            select(FriendClaim).join(Coupon, Coupon.id == FriendClaim.coupon_id)
            .where(Coupon.code == record.voucher_code, Coupon.purpose == Coupon.FRIEND_OFFER))
        if claim is not None:
            return session.get(Advocate, claim.advocate_id), "voucher", claim
    if record.referral_code:
        advocate = session.scalar(select(Advocate).where(Advocate.code == record.referral_code))
        if advocate is not None:
            claim = session.scalar(select(FriendClaim).where(
                FriendClaim.advocate_id == advocate.id, FriendClaim.email == record.email))
            return advocate, "metadata", claim
    return None, None, None


def _not_attributed(record: OrderRecord, note: str) -> None:
    record.attributed = False
    record.attribution_note = note


def _attribute(session: Session, tenant: Tenant, program: Program, record: OrderRecord, outcome: Outcome,
               friend_check) -> None:
    advocate, source, claim = _find_referrer(session, record)
    if advocate is None:
        if record.referral_code or record.voucher_code:
            _not_attributed(record, f"Not referred: the code on the order ({record.referral_code or record.voucher_code}) "
                                    "is not a referral code of this shop.")
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
    decision = fraud.evaluate(ctx, program["fraud"].get("rules"))

    referral = Referral(
        tenant_id=tenant.id, advocate_id=advocate.id, saleor_order_id=record.saleor_order_id,
        order_record_id=record.id, friend_email=record.email, friend_contact_email=record.contact_email,
        friend_first_name=record.first_name, friend_user_id=record.saleor_user_id,
        channel_slug=record.channel_slug, currency=record.currency, order_total=record.total, source=source,
        variant=advocate.variant, decision=decision.action, reasons=[f.as_dict() for f in decision.findings],
    )
    try:
        with session.begin_nested():
            session.add(referral)
            move_referral(session, referral, Referral.PENDING,
                          f"Attributed to advocate {advocate.code} by {'friend voucher' if source == 'voucher' else 'referral_code metadata'}.")
    except IntegrityError:
        return  # another worker attributed this order concurrently
    record.attributed = True
    record.attribution_note = attribution_note(
        f"Referred by advocate {advocate.code} "
        f"({'friend voucher ' + record.voucher_code if source == 'voucher' else 'referral_code in order metadata'}).",
        decision)
    reasons = decision_summary(decision)
    if decision.action == "block":
        move_referral(session, referral, Referral.REJECTED, reasons, actor="rule")
        return
    if decision.action == "hold":
        move_referral(session, referral, Referral.HELD, reasons, actor="rule")
        return
    if advocate.variant == "holdout":
        move_referral(session, referral, Referral.REJECTED, "Advocate is in the A/B holdout group: no offer, no reward.", actor="system")
        return
    hold_days = int(program["hold_days"] or 0)
    if hold_days > 0:
        referral.hold_until = utcnow() + timedelta(days=hold_days)
        note = f"Held for the {hold_days}-day return window."
        if decision.action == "flag":
            note = reasons + " " + note
        move_referral(session, referral, Referral.HELD, note, actor="rule" if decision.action == "flag" else "system")
        return
    approve(session, tenant, program, referral, outcome,
            reason=reasons,
            actor="rule")


def approve(session: Session, tenant: Tenant, program: Program, referral: Referral, outcome: Outcome,
            *, reason: str, actor: str) -> None:
    """Approve a referral and reserve both coupons (created in Saleor after the commit)."""
    move_referral(session, referral, Referral.APPROVED, reason, actor=actor)
    advocate = session.get(Advocate, referral.advocate_id)
    order = session.get(OrderRecord, referral.order_record_id)
    rewards = program.rewards_for(referral.channel_slug)
    from plugin.referrals.experiments import variant_rewards

    referrer_spec, friend_spec = variant_rewards(program, advocate.variant, rewards)
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
        outcome.coupon_ids.append(coupon.id)
