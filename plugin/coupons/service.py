"""Coupons are Saleor vouchers with one single-use code each.

The code is reserved in our database first (unique per tenant), then created in
Saleor. A retry re-sends the same code; Saleor's ALREADY_EXISTS for *our*
reserved code means an earlier attempt got through, so it counts as success.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.db import utcnow
from plugin.program.settings import RewardSpec
from plugin.referrals.identity import new_code
from plugin.referrals.ledger import move_coupon
from plugin.saleor.client import SaleorClient, SaleorMutationError

log = logging.getLogger(__name__)

VOUCHER_NAME_PREFIX = "Referral"
CODE_PREFIX = {Coupon.FRIEND_OFFER: "FRIEND", Coupon.REFERRER_REWARD: "THANKS", Coupon.FRIEND_REWARD: "WELCOME"}


def reserve_coupon(session: Session, *, tenant_id: int, purpose: str, spec: RewardSpec, recipient_email: str,
                   channel_slug: str, saleor_channel_id: str, currency: str, expiry_days: int,
                   min_order: Decimal = Decimal(0), referral_id: int | None = None,
                   advocate_id: int | None = None) -> Coupon:
    """Reserve a fresh code; if this referral already has its coupon for `purpose`, return that."""
    if referral_id is not None:
        existing = session.scalar(select(Coupon).where(Coupon.referral_id == referral_id, Coupon.purpose == purpose))
        if existing is not None:
            return existing
    for _ in range(5):
        coupon = Coupon(
            tenant_id=tenant_id, purpose=purpose, referral_id=referral_id, advocate_id=advocate_id,
            recipient_email=recipient_email, code=f"{CODE_PREFIX[purpose]}-{new_code(10)}",
            channel_slug=channel_slug, saleor_channel_id=saleor_channel_id, currency=currency,
            value_type=spec.type, value=spec.value, min_order=min_order,
            expires_at=utcnow() + timedelta(days=expiry_days), state=Coupon.RESERVED,
        )
        try:
            with session.begin_nested():
                session.add(coupon)
        except IntegrityError:
            if referral_id is not None:  # a concurrent worker reserved it first
                existing = session.scalar(select(Coupon).where(
                    Coupon.referral_id == referral_id, Coupon.purpose == purpose))
                if existing is not None:
                    return existing
            continue  # code collision: draw again
        return coupon
    raise RuntimeError("could not reserve a unique coupon code")


def _voucher_input(coupon: Coupon) -> dict:
    data = {
        "name": f"{VOUCHER_NAME_PREFIX} {coupon.purpose.replace('_', ' ')} {coupon.code}",
        "type": "ENTIRE_ORDER",
        "discountValueType": coupon.value_type,
        "addCodes": [coupon.code],
        "singleUse": True,
        "applyOncePerCustomer": True,
    }
    if coupon.expires_at:
        data["endDate"] = coupon.expires_at.isoformat()
    return data


def _amount(value: Decimal) -> str:
    """Saleor checks currency precision: send 10, 10.5, never 10.0000."""
    return format(value.normalize(), "f")


def create_in_saleor(client: SaleorClient, coupon: Coupon) -> None:
    """Create (or find, after an earlier half-finished attempt) the voucher, then list it in the channel."""
    try:
        voucher = client.create_voucher(_voucher_input(coupon))
        voucher_id = voucher["id"]
        code_id = next(
            (e["node"]["id"] for e in voucher["codes"]["edges"] if e["node"]["code"] == coupon.code), None)
    except SaleorMutationError as exc:
        ours = exc.code == "ALREADY_EXISTS" and coupon.code in (exc.errors[0].get("voucherCodes") or [])
        if not ours:
            raise
        found = client.find_voucher_code(coupon.code)
        if found is None or not found[0]["name"].startswith(VOUCHER_NAME_PREFIX):
            raise
        voucher_id, code_id = found[0]["id"], found[1]["id"]
        log.info("coupon %s already existed in Saleor (earlier attempt); reusing voucher %s", coupon.id, voucher_id)
    min_amount = _amount(coupon.min_order) if coupon.min_order and coupon.min_order > 0 else None
    client.set_voucher_channel(voucher_id, coupon.saleor_channel_id, _amount(coupon.value), min_amount)
    coupon.saleor_voucher_id, coupon.saleor_code_id = voucher_id, code_id


def delete_in_saleor(client: SaleorClient, coupon: Coupon) -> bool:
    """Delete the code in Saleor unless a customer already used it. Returns True if it was used."""
    found = client.find_voucher_code(coupon.code)
    if found is None:
        return False
    _voucher, code = found
    if code.get("used") or code.get("isActive") is False:
        return True  # single-use codes go inactive once redeemed: cannot be recalled
    client.delete_voucher_codes([code["id"]])
    return False


def issue(session: Session, client: SaleorClient, coupon: Coupon, reason: str) -> None:
    coupon.issue_attempts += 1
    create_in_saleor(client, coupon)
    coupon.issued_at = utcnow()
    coupon.last_error = None
    move_coupon(session, coupon, Coupon.ISSUED, reason)


def revoke(session: Session, client: SaleorClient | None, coupon: Coupon, reason: str, actor: str = "system") -> Decimal:
    """Take a coupon back. Returns the value we could not recall (already used), for the shortfall."""
    if coupon.state in (Coupon.REVOKED, Coupon.CANCELLED):
        return Decimal(0)
    if coupon.state == Coupon.USED:
        return coupon.value if coupon.value_type == "FIXED" else coupon.redeemed_value
    was_issued = coupon.state == Coupon.ISSUED
    # Even a reserved coupon may exist in Saleor, from an attempt that crashed before we recorded it.
    used = delete_in_saleor(client, coupon) if client is not None else False
    if used:
        coupon.used_at = coupon.used_at or utcnow()
        move_coupon(session, coupon, Coupon.USED, "already redeemed; cannot be recalled", actor)
        return coupon.value if coupon.value_type == "FIXED" else coupon.redeemed_value
    coupon.revoked_at = utcnow()
    move_coupon(session, coupon, Coupon.REVOKED if was_issued else Coupon.CANCELLED, reason, actor)
    return Decimal(0)
