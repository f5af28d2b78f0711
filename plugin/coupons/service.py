"""Coupons are Saleor vouchers with one single-use code each, or gift cards (store credit):
reserve, issue, take back.

The code is reserved in our database first (unique per tenant), then created in
Saleor. A retry re-sends the same code; Saleor's ALREADY_EXISTS for *our*
reserved code means an earlier attempt got through, so it counts as success.
Issuing and taking back lock the coupon row (then its referral's), so a refund that
lands before, during or after issuing always ends with no live code.
Gift cards get their code from Saleor; they are found again by the key we put in
their metadata (plugin/coupons/giftcards.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.coupons import giftcards
from plugin.coupons.models import Coupon
from plugin.db import insert_unless_present, record_failure, serialized, session_scope, utcnow
from plugin.identity import is_pseudonym, new_code
from plugin.ledger import move_coupon, move_referral
from plugin.mail.compose import queue_coupon_email, withdraw_counted_update
from plugin.program.settings import FIXED, FREE_SHIPPING, GIFT_CARD_KINDS, Program, RewardSpec, load_program
from plugin.referrals.models import Advocate, FriendClaim, LedgerEntry, OrderRecord, Referral
from plugin.rewards.ladder import next_goal
from plugin.rewards.milestones import note_revocation_on_milestones
from plugin.saleor.client import SaleorClient, SaleorMutationError
from plugin.tenants.models import Tenant
from plugin.tenants.service import saleor_client

log = logging.getLogger(__name__)

VOUCHER_NAME_PREFIX = "Referral"
CODE_PREFIX = {
    Coupon.FRIEND_OFFER: "FRIEND",
    Coupon.REFERRER_REWARD: "THANKS",
    Coupon.FRIEND_REWARD: "WELCOME",
    Coupon.MILESTONE_REWARD: "BONUS",
}
GIFT_CARD_PREFIX = "CREDIT"  # a gift card's key until Saleor gives it its code
PURPOSE_NAMES = {
    Coupon.FRIEND_OFFER: "friend offer",
    Coupon.REFERRER_REWARD: "advocate reward",
    Coupon.FRIEND_REWARD: "friend reward",
    Coupon.MILESTONE_REWARD: "milestone bonus",
}
LIVE_REFERRAL_STATES = (Referral.APPROVED, Referral.ISSUED)


def _existing(session: Session, referral_id: int | None, purpose: str, award_key: str | None) -> Coupon | None:
    if award_key is not None:
        found = session.scalar(select(Coupon).where(Coupon.award_key == award_key))
        if found is not None:
            return found
    if referral_id is not None:
        return session.scalar(select(Coupon).where(Coupon.referral_id == referral_id, Coupon.purpose == purpose))
    return None


def reserve_coupon(
    session: Session,
    *,
    tenant_id: int,
    purpose: str,
    spec: RewardSpec,
    recipient_email: str,
    channel_slug: str,
    saleor_channel_id: str,
    currency: str,
    expiry_days: int,
    min_order: Decimal = Decimal(0),
    referral_id: int | None = None,
    advocate_id: int | None = None,
    award_key: str | None = None,
    rate: Decimal | None = None,
    base_amount: Decimal | None = None,
) -> Coupon:
    """Reserve a fresh code; if this referral already has its coupon for `purpose` (or the award
    `award_key` was already reserved, e.g. a milestone), return that one.

    For a COMMISSION, `spec.value` is the amount to pay (computed and capped), `rate` the
    percentage and `base_amount` the order amount it was taken from."""
    gift_card = spec.type in GIFT_CARD_KINDS
    for _ in range(5):
        code = f"{GIFT_CARD_PREFIX if gift_card else CODE_PREFIX[purpose]}-{new_code(10)}"
        coupon = Coupon(
            tenant_id=tenant_id,
            purpose=purpose,
            referral_id=referral_id,
            advocate_id=advocate_id,
            recipient_email=recipient_email,
            code=code,
            lookup_key=code if gift_card else None,
            channel_slug=channel_slug,
            saleor_channel_id=saleor_channel_id,
            currency=currency,
            value_type=spec.type,
            value=spec.value,
            min_order=Decimal(0) if gift_card else min_order,
            rate=rate,
            base_amount=base_amount,
            award_key=award_key,
            expires_at=utcnow() + timedelta(days=expiry_days),
            state=Coupon.RESERVED,
        )
        reserved = insert_unless_present(session, coupon)
        if reserved is not None:
            return reserved
        # Reserved before (same referral and purpose, or same award), or a code collision: draw again.
        existing = _existing(session, referral_id, purpose, award_key)
        if existing is not None:
            return existing
    raise RuntimeError("could not reserve a unique coupon code")


def _voucher_input(coupon: Coupon) -> dict:
    free_shipping = coupon.value_type == FREE_SHIPPING
    data = {
        "name": f"{VOUCHER_NAME_PREFIX} {coupon.purpose.replace('_', ' ')} {coupon.code}",
        # Free shipping is a SHIPPING voucher taking 100 % off the shipping price.
        "type": "SHIPPING" if free_shipping else "ENTIRE_ORDER",
        "discountValueType": "PERCENTAGE" if free_shipping else coupon.value_type,
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


def _listing_value(coupon: Coupon) -> str:
    return "100" if coupon.value_type == FREE_SHIPPING else _amount(coupon.value)


def _gift_card_note(coupon: Coupon) -> str:
    note = f"Referral program: {PURPOSE_NAMES[coupon.purpose]}"
    if coupon.value_type == "COMMISSION" and coupon.rate is not None and coupon.base_amount is not None:
        note += (
            f", commission {_amount(coupon.rate)}% of the friend's order subtotal "
            f"{_amount(coupon.base_amount)} {coupon.currency}"
        )
    return note + (f" (referral {coupon.referral_id})." if coupon.referral_id else ".")


def create_in_saleor(client: SaleorClient, coupon: Coupon) -> None:
    """Create (or find, after an earlier half-finished attempt) the voucher, then list it in the
    channel; or the gift card, for store credit."""
    if coupon.value_type in GIFT_CARD_KINDS:
        giftcards.create_in_saleor(client, coupon, _gift_card_note(coupon))
        return
    create_vouchers_in_saleor(client, [coupon])


def create_vouchers_in_saleor(client: SaleorClient, coupons: list[Coupon]) -> None:
    """The vouchers of these coupons in two requests whatever their number: one aliased
    voucherCreate, one aliased channel listing. A code that already exists as *our* voucher (an
    earlier attempt got through) is looked up and reused."""
    if not coupons:
        return
    created = client.create_vouchers([_voucher_input(coupon) for coupon in coupons])
    listings = []
    for coupon, payload in zip(coupons, created, strict=True):
        if payload.get("errors"):
            voucher_id, code_id = _created_before(
                client, coupon, SaleorMutationError("voucherCreate", payload["errors"])
            )
        else:
            voucher = payload["voucher"]
            voucher_id = voucher["id"]
            code_id = next(
                (e["node"]["id"] for e in voucher["codes"]["edges"] if e["node"]["code"] == coupon.code), None
            )
        coupon.saleor_voucher_id, coupon.saleor_code_id = voucher_id, code_id
        min_amount = _amount(coupon.min_order) if coupon.min_order and coupon.min_order > 0 else None
        listings.append((voucher_id, coupon.saleor_channel_id, _listing_value(coupon), min_amount))
    client.set_voucher_channels(listings)


def _created_before(client: SaleorClient, coupon: Coupon, exc: SaleorMutationError) -> tuple[str, str]:
    """(voucher id, code id) of our own voucher for this code, when Saleor says the code exists."""
    ours = exc.code == "ALREADY_EXISTS" and coupon.code in (exc.errors[0].get("voucherCodes") or [])
    if not ours:
        raise exc
    found = client.find_voucher_code(coupon.code)
    if found is None or not found[0]["name"].startswith(VOUCHER_NAME_PREFIX):
        raise exc
    log.info("coupon %s already existed in Saleor (earlier attempt); reusing voucher %s", coupon.id, found[0]["id"])
    return found[0]["id"], found[1]["id"]


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


def unrecallable(coupon: Coupon) -> Decimal:
    """The value of a used reward we cannot take back: a fixed voucher's face value, otherwise what
    it was worth when redeemed (a percentage's or free shipping's discount, a gift card's spent balance)."""
    return coupon.value if coupon.value_type == FIXED else coupon.redeemed_value


def revoke(
    session: Session, client: SaleorClient | None, coupon: Coupon, reason: str, actor: str = "system"
) -> Decimal:
    """Take a coupon back. Returns the value we could not recall (already used), for the shortfall."""
    if coupon.state in (Coupon.REVOKED, Coupon.CANCELLED):
        return Decimal(0)
    if coupon.state == Coupon.USED:
        return unrecallable(coupon)
    if coupon.value_type in GIFT_CARD_KINDS:
        return _revoke_gift_card(session, client, coupon, reason, actor)
    was_issued = coupon.state == Coupon.ISSUED
    # Even a reserved coupon may exist in Saleor, from an attempt that crashed before we recorded it.
    used = delete_in_saleor(client, coupon) if client is not None else False
    if used:
        coupon.used_at = coupon.used_at or utcnow()
        move_coupon(session, coupon, Coupon.USED, "already redeemed; cannot be recalled", actor)
        return unrecallable(coupon)
    coupon.revoked_at = utcnow()
    move_coupon(session, coupon, Coupon.REVOKED if was_issued else Coupon.CANCELLED, reason, actor)
    return Decimal(0)


def _revoke_gift_card(
    session: Session, client: SaleorClient | None, coupon: Coupon, reason: str, actor: str
) -> Decimal:
    """Deactivate the card; what was already spent from it is the shortfall."""
    was_issued = coupon.state == Coupon.ISSUED
    card, spent = giftcards.take_back(client, coupon, reason) if client is not None else (None, Decimal(0))
    coupon.redeemed_value = max(coupon.redeemed_value or Decimal(0), spent)
    if card is not None and spent >= coupon.value:
        coupon.used_at = coupon.used_at or utcnow()
        move_coupon(session, coupon, Coupon.USED, "balance already spent in full; cannot be recalled", actor)
        return unrecallable(coupon)
    coupon.revoked_at = utcnow()
    if spent > 0:
        reason = (
            f"{reason} Partly spent: {_amount(spent)} {coupon.currency} of {_amount(coupon.value)} "
            f"{coupon.currency} was used before the card was deactivated; that part is a shortfall."
        )
    move_coupon(session, coupon, Coupon.REVOKED if was_issued or card is not None else Coupon.CANCELLED, reason, actor)
    return coupon.redeemed_value


def _locked_coupon(session: Session, coupon_id: int) -> Coupon | None:
    return session.scalar(select(Coupon).where(Coupon.id == coupon_id).with_for_update())


def issue_coupon(tenant_id: int, coupon_id: int) -> str:
    """Create a reserved coupon in Saleor and queue its e-mail. Safe to repeat and to race
    with a revocation: whichever takes the row lock second sees the other's result.
    A failure is counted on the coupon (after the rollback released the lock) and raised."""
    try:
        return _issue_coupon(tenant_id, coupon_id)
    except Exception as exc:
        record_failure(tenant_id, Coupon, coupon_id, exc, counter="issue_attempts")
        raise


def _issue_coupon(tenant_id: int, coupon_id: int) -> str:
    with session_scope(tenant_id) as session, serialized(session):
        coupon = _locked_coupon(session, coupon_id)
        if coupon is None or coupon.state != Coupon.RESERVED:
            return "skipped"
        tenant = session.get(Tenant, tenant_id)
        # Locked (after the coupon, the order every task takes them in) so a refund that commits
        # while the code is being created waits for us and then revokes what we issued, instead
        # of being overwritten by our "issued".
        referral = (
            session.scalar(select(Referral).where(Referral.id == coupon.referral_id).with_for_update())
            if coupon.referral_id
            else None
        )
        if referral is not None and referral.state not in LIVE_REFERRAL_STATES:
            revoke(session, saleor_client(tenant), coupon, f"Referral is {referral.state}.")
            return "cancelled"
        if is_pseudonym(coupon.recipient_email):
            revoke(session, saleor_client(tenant), coupon, "The recipient's personal data was erased.")
            settle_referral(session, referral)
            return "cancelled"
        issue(
            session,
            saleor_client(tenant),
            coupon,
            "Created in Saleor." if referral is None else "Reward created in Saleor.",
        )
        _queue_email(session, tenant, load_program(session, tenant_id), coupon, referral)
        settle_referral(session, referral)
    return "issued"


def issue_rewards(tenant_id: int, referral_id: int) -> str:
    """Create every reserved reward of an approved referral in Saleor in one pass (the vouchers in
    one aliased request per step) and queue their e-mails. Safe to repeat and to race with a
    revocation, like `issue_coupon`. A failure is counted on each reserved coupon and raised."""
    try:
        return _issue_rewards(tenant_id, referral_id)
    except Exception as exc:
        with session_scope(tenant_id) as session:
            for coupon in session.scalars(
                select(Coupon).where(Coupon.referral_id == referral_id, Coupon.state == Coupon.RESERVED)
            ):
                coupon.issue_attempts = (coupon.issue_attempts or 0) + 1
                coupon.last_error = f"{type(exc).__name__}: {exc}"[:500]
        raise


def _issue_rewards(tenant_id: int, referral_id: int) -> str:
    with session_scope(tenant_id) as session, serialized(session):
        # The coupons' locks first, then the referral's: the order issue_coupon and take-back use.
        coupons = session.scalars(
            select(Coupon).where(Coupon.referral_id == referral_id).order_by(Coupon.id).with_for_update()
        ).all()
        reserved = [coupon for coupon in coupons if coupon.state == Coupon.RESERVED]
        if not reserved:
            return "skipped"
        tenant = session.get(Tenant, tenant_id)
        referral = session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update())
        client = saleor_client(tenant)
        if referral is None or referral.state not in LIVE_REFERRAL_STATES:
            for coupon in reserved:
                revoke(session, client, coupon, f"Referral is {referral.state if referral else 'gone'}.")
            return "cancelled"
        issuing = []
        for coupon in reserved:
            if is_pseudonym(coupon.recipient_email):
                revoke(session, client, coupon, "The recipient's personal data was erased.")
            else:
                issuing.append(coupon)
        for coupon in issuing:
            coupon.issue_attempts += 1
        create_vouchers_in_saleor(client, [c for c in issuing if c.value_type not in GIFT_CARD_KINDS])
        for coupon in issuing:
            if coupon.value_type in GIFT_CARD_KINDS:
                giftcards.create_in_saleor(client, coupon, _gift_card_note(coupon))
        program = load_program(session, tenant_id) if issuing else None
        for coupon in issuing:
            coupon.issued_at = utcnow()
            coupon.last_error = None
            move_coupon(session, coupon, Coupon.ISSUED, "Reward created in Saleor.")
            _queue_email(session, tenant, program, coupon, referral)
        settle_referral(session, referral)
    return "issued" if issuing else "cancelled"


def settle_referral(session: Session, referral: Referral | None) -> None:
    """A live referral is issued once each of its rewards (friend, referrer, a milestone bonus)
    exists in Saleor (or was cancelled because its recipient's data was erased: the only way a
    live referral's coupon gets cancelled)."""
    if referral is None:
        return
    siblings = session.scalars(select(Coupon.state).where(Coupon.referral_id == referral.id)).all()
    if Coupon.ISSUED in siblings and all(s in (Coupon.ISSUED, Coupon.CANCELLED) for s in siblings):
        issued = siblings.count(Coupon.ISSUED)
        move_referral(
            session,
            referral,
            Referral.ISSUED,
            (
                "Both rewards created in Saleor."
                if issued == 2
                else f"All {issued} rewards created in Saleor."
                if issued > 2
                else "Reward created in Saleor."
            )
            if issued == len(siblings)
            else "Reward created in Saleor (the other one was cancelled: recipient's data erased).",
        )


def _queue_email(session: Session, tenant: Tenant, program: Program, coupon: Coupon, referral: Referral | None) -> None:
    """The coupon's e-mail, addressed as its recipient knows us: name, language, the advocate's name."""
    advocate = session.get(Advocate, coupon.advocate_id) if coupon.advocate_id else None
    if coupon.purpose in (Coupon.REFERRER_REWARD, Coupon.MILESTONE_REWARD):
        queue_coupon_email(
            session,
            tenant,
            coupon,
            program,
            recipient_name=advocate.first_name if advocate else "",
            advocate=advocate,
            locale=advocate.locale if advocate else None,
            goal=next_goal(session, advocate, program) if advocate and program.messages.progress else None,
            friend_rank=referral.friend_rank if referral else None,
        )
        if referral is not None:  # this e-mail tells the advocate; a "counted" update not sent yet is moot
            withdraw_counted_update(session, tenant.id, referral.id)
    elif coupon.purpose == Coupon.FRIEND_REWARD:
        queue_coupon_email(
            session,
            tenant,
            coupon,
            program,
            recipient_name=referral.friend_first_name if referral else "",
            locale=_friend_locale(session, referral),
        )
    else:
        claim = session.scalar(select(FriendClaim).where(FriendClaim.coupon_id == coupon.id))
        advocate = session.get(Advocate, claim.advocate_id) if claim else None
        queue_coupon_email(
            session,
            tenant,
            coupon,
            program,
            advocate=advocate,
            locale=(claim.locale if claim else None) or (advocate.locale if advocate else None),
        )


def _friend_locale(session: Session, referral: Referral | None) -> str | None:
    if referral is None:
        return None
    return session.scalar(select(OrderRecord.locale).where(OrderRecord.id == referral.order_record_id))


def take_back_rewards(tenant_id: int, referral_id: int) -> str:
    """Take back every coupon of a revoked (or rejected) referral; record what was already spent."""
    with session_scope(tenant_id) as session, serialized(session):
        referral = session.get(Referral, referral_id)
        if referral is None or referral.state in LIVE_REFERRAL_STATES:
            return "skipped"
        tenant = session.get(Tenant, tenant_id)
        client = saleor_client(tenant) if tenant.token_encrypted else None
        coupon_ids = session.scalars(
            select(Coupon.id).where(Coupon.referral_id == referral_id).order_by(Coupon.id)
        ).all()
        shortfall = Decimal(0)
        reason = f"Referral {referral.state}: " + _last_reason(session, referral)
        for coupon_id in coupon_ids:
            shortfall += revoke(session, client, _locked_coupon(session, coupon_id), reason)
        referral = session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update())
        referral.shortfall = shortfall
        note_revocation_on_milestones(session, referral)
    return "revoked"


def _last_reason(session: Session, referral: Referral) -> str:
    return (
        session.scalar(
            select(LedgerEntry.reason)
            .where(LedgerEntry.referral_id == referral.id)
            .order_by(LedgerEntry.id.desc())
            .limit(1)
        )
        or ""
    )


def refresh_gift_card_balances(tenant_id: int) -> int:
    """What customers spent from the shop's referral-reward gift cards, read from Saleor (hourly,
    from the sweeper): see plugin.coupons.giftcards.refresh_balances."""
    with session_scope(tenant_id) as session, serialized(session):
        tenant = session.get(Tenant, tenant_id)
        if tenant is None or not tenant.is_installed:
            return 0
        return giftcards.refresh_balances(session, saleor_client(tenant))
