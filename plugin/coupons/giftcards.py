"""Store credit as Saleor gift cards: created exactly once, taken back per what is left on them.

Saleor generates a gift card's code itself, so a retry cannot re-send "our" code the way a voucher
does. Instead every card carries our reward id in its metadata (`referral_reward_id` = the
coupon's `lookup_key`, written in the same save as the card since 3.21), and issuing looks it up
before every create: a worker that crashed after Saleor made the card, before our commit, finds it
on the retry instead of making a second one. Cards are tagged `referral-reward`, get the reward's
expiry date and a fixed balance in the channel's currency, and are e-mailed by us: no `userEmail`
is sent, so Saleor does not e-mail them too.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.db import utcnow
from plugin.i18n.formatting import plain_amount
from plugin.ledger import move_coupon, note_coupon
from plugin.saleor.client import SaleorClient

log = logging.getLogger(__name__)

METADATA_KEY = "referral_reward_id"
TAG = "referral-reward"


def _amount(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def _money(data: dict | None) -> Decimal:
    return Decimal(str((data or {}).get("amount") or 0))


def _input(coupon: Coupon, note: str) -> dict:
    data = {
        "balance": {"amount": _amount(coupon.value), "currency": coupon.currency},
        "isActive": True,
        "addTags": [TAG],
        "metadata": [{"key": METADATA_KEY, "value": coupon.lookup_key}],
        "note": note,
    }
    if coupon.expires_at:
        data["expiryDate"] = coupon.expires_at.date().isoformat()
    return data


def find(client: SaleorClient, coupon: Coupon) -> dict | None:
    """The coupon's gift card in Saleor (by id once we know it, else by our key), or None."""
    if coupon.saleor_gift_card_id:
        return client.gift_card(coupon.saleor_gift_card_id)
    return client.find_gift_card(METADATA_KEY, coupon.lookup_key) if coupon.lookup_key else None


def create_in_saleor(client: SaleorClient, coupon: Coupon, note: str) -> None:
    """Find the coupon's card (an earlier attempt may have made it) or create it; record its id and code."""
    card = client.find_gift_card(METADATA_KEY, coupon.lookup_key)
    if card is not None:
        log.info("gift card for coupon %s already existed in Saleor (earlier attempt); reusing it", coupon.id)
    else:
        card = client.create_gift_card(_input(coupon, note))
    coupon.saleor_gift_card_id = card["id"]
    coupon.code = card["code"]


def balance_used(card: dict) -> Decimal:
    """What customers spent from the card so far."""
    return max(Decimal(0), _money(card.get("initialBalance")) - _money(card.get("currentBalance")))


def take_back(client: SaleorClient, coupon: Coupon, reason: str) -> tuple[dict | None, Decimal]:
    """Deactivate the coupon's card so nothing more can be spent; returns (the card as Saleor has
    it, or None if it was never created; the balance already spent, which cannot be recalled)."""
    card = find(client, coupon)
    if card is None:
        return None, Decimal(0)
    spent = balance_used(card)
    if card.get("isActive") and _money(card.get("currentBalance")) > 0:
        card = {**card, **client.deactivate_gift_card(card["id"])}
        client.add_gift_card_note(card["id"], f"Taken back by the referral program. {reason}"[:500])
    return card, spent


def record_spent(session: Session, coupon: Coupon, card: dict, where: str) -> bool:
    """Remember what has been spent from the coupon's card (Saleor's initial − current balance); a
    card spent in full is `used`. Returns True when something new was recorded."""
    spent = balance_used(card)
    if coupon.state not in (Coupon.ISSUED, Coupon.RESERVED) or spent <= (coupon.redeemed_value or 0):
        return False
    coupon.redeemed_value = spent
    coupon.used_at = coupon.used_at or utcnow()
    if spent >= coupon.value:
        move_coupon(session, coupon, Coupon.USED, f"Balance spent in full ({where}).")
    else:
        note_coupon(
            session,
            coupon,
            f"{plain_amount(spent)} {coupon.currency} of {plain_amount(coupon.value)} spent so far ({where}).",
        )
    return True


def refresh_balances(session: Session, client: SaleorClient) -> int:
    """Read every used referral-reward card of the shop from Saleor and record what was spent.

    Orders list the cards they were paid with (`order.giftCards`) when a card was added at
    checkout as a promo code; one paid through Saleor 3.23's gift-card payment gateway
    (`transactionInitialize`) is not listed there, so this periodic read (the sweeper, hourly per
    shop) keeps the spent amounts true either way. Returns how many coupons changed."""
    changed = 0
    for card in client.used_gift_cards(METADATA_KEY):
        coupon = session.scalar(select(Coupon).where(Coupon.saleor_gift_card_id == card["id"]).with_for_update())
        if coupon is not None and record_spent(session, coupon, card, "balance read from Saleor"):
            changed += 1
    return changed
