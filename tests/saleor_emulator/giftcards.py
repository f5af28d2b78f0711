"""Gift cards: ``giftCardCreate``, ``giftCard``, ``giftCards``, ``giftCardDeactivate``,
``giftCardActivate``, ``giftCardAddNote``, and their use when an order is placed.

Behaviour from core 3.23.28 (3.21 and 3.22 alike for what is emulated here):

* ``giftCardCreate`` (``graphql/giftcard/mutations/gift_card_create.py``): MANAGE_GIFT_CARD. The code
  is generated (``XXXX-XXXX-XXXX``, unique across voucher codes and gift cards); the deprecated
  ``code`` input is still honoured and a taken one is ALREADY_EXISTS on ``code`` ("Promo code already
  exists."). Checks, in core's order: ``expiryDate`` not in the future → INVALID on ``expiryDate``
  ("Expiry date must be in the future."); ``balance`` with more decimals than the currency has →
  INVALID on ``balance`` ("Value cannot have more than 2 decimal places."); ``balance.amount <= 0``
  → INVALID on ``balance`` ("Balance amount have to be greater than 0."); an invalid ``userEmail`` →
  INVALID on ``email``; ``userEmail`` without ``channel`` → REQUIRED on ``channel``. ``metadata`` and
  ``privateMetadata`` (added in 3.21) are stored with the card in the same save; tags are
  lower-cased. An ISSUED event is recorded (NOTE_ADDED for ``note``), and with ``userEmail`` Saleor
  e-mails the customer itself (NOTIFY_USER, recorded in ``state.notifications``). Error field names
  are camelCase, as core's ``validation_error_to_error_type`` writes them.
* ``giftCards(filter:)`` (``graphql/giftcard/filters.py``): ``isActive``, ``metadata`` (a value →
  contains, no value → has key), ``tags`` (any of), ``used`` (``usedByEmail`` set), ``currency``,
  ``code`` (exact), ``currentBalance``/``initialBalance`` (need ``currency``, else a GraphQL error
  "You must provide a `currency` filter parameter for filtering by price."); ``search`` matches the
  code, tags and the used-by e-mail.
* ``giftCardDeactivate``/``giftCardActivate``: NOT_FOUND on ``id`` for an unknown card; DEACTIVATED /
  ACTIVATED event only when the state changes. ``giftCardAddNote``: an empty message is REQUIRED on
  ``message`` ("Message can't be empty."); returns the NOTE_ADDED event.
* Use at checkout (``giftcard/utils.py: add_gift_card_code_to_checkout``, ``order/utils.py:
  add_gift_cards_to_order``): only an active, unexpired card in the channel's currency applies; each
  card pays what it can of what is left of the total, its balance goes down, ``lastUsedOn`` and
  ``usedByEmail`` are set and a USED_IN_ORDER event records the balance before and after. The
  order's ``total`` is what is left to pay (core stores the total net of gift cards) and
  ``order.giftCards`` lists the cards.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError

from .schema import ExecContext, PermissionDenied, root_resolver
from .state import GiftCard, Order, from_global_id, generate_promo_code, now
from .views import connection

MANAGE_GIFT_CARD = "MANAGE_GIFT_CARD"
# core: validate_price_precision uses the currency's minor unit (2 for the currencies emulated).
ZERO_DECIMAL = {"JPY", "KRW", "CLP", "VND", "ISK", "HUF"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class GiftCardNotApplicable(Exception):
    """core ``InvalidPromoCode``: the code is not a usable gift card for this channel today."""


def _require(ctx: ExecContext) -> None:
    if not ctx.requestor.satisfies([MANAGE_GIFT_CARD]):
        raise PermissionDenied(permissions=[MANAGE_GIFT_CARD])


def _error(field: str | None, message: str, code: str) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code, "tags": None}


def _payload(ctx: ExecContext, card: GiftCard | None, errors: list[dict], **extra: Any) -> dict[str, Any]:
    return {
        "giftCard": ctx.views.gift_card(card) if card is not None and not errors else None,
        "errors": errors,
        "giftCardErrors": errors,
        **extra,
    }


def _places(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL else 2


def _parse_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise GraphQLError(f"Date cannot represent value: {value!r}") from exc


def _card_or_error(ctx: ExecContext, id: str, field: str = "id") -> tuple[GiftCard | None, list[dict]]:
    try:
        type_name, pk = from_global_id(id)
    except ValueError:
        return None, [_error(field, f"Couldn't resolve id: {id}.", "GRAPHQL_ERROR")]
    if type_name != "GiftCard":
        return None, [_error(field, "Must receive a GiftCard id.", "GRAPHQL_ERROR")]
    card = ctx.emulator.state.gift_cards.get(int(pk)) if pk.isdigit() else None
    if card is None:
        return None, [_error(field, f"Couldn't resolve to a node: {id}", "NOT_FOUND")]
    return card, []


def _tag(st, name: str) -> str:
    name = name.lower()
    if name not in st.gift_card_tags:
        st.gift_card_tags[name] = st.next_id("gift_card_tag")
    return name


@root_resolver("Mutation", "giftCardCreate")
def m_gift_card_create(ctx: ExecContext, info, input: dict[str, Any]):
    _require(ctx)
    st = ctx.emulator.state
    for unsupported in ("assignedTo", "startDate", "endDate"):
        if input.get(unsupported) is not None:
            raise GraphQLError(f"not emulated: GiftCardCreateInput.{unsupported}")
    code = input.get("code")
    if code and code in st.all_codes():
        return _payload(ctx, None, [_error("code", "Promo code already exists.", "ALREADY_EXISTS")])
    expiry = _parse_date(input.get("expiryDate"))
    if expiry is not None and expiry <= now().date():
        return _payload(ctx, None, [_error("expiryDate", "Expiry date must be in the future.", "INVALID")])
    balance = input["balance"]
    currency = balance["currency"]
    try:
        amount = Decimal(str(balance["amount"]))
    except InvalidOperation as exc:
        raise GraphQLError(f"Expected a PositiveDecimal, got {balance['amount']!r}") from exc
    places = _places(currency)
    if amount and amount.normalize().as_tuple().exponent < -places:
        return _payload(
            ctx, None, [_error("balance", f"Value cannot have more than {places} decimal places.", "INVALID")]
        )
    if not amount > 0:
        return _payload(ctx, None, [_error("balance", "Balance amount have to be greater than 0.", "INVALID")])
    email = input.get("userEmail")
    if email:
        if not EMAIL.match(email):
            return _payload(ctx, None, [_error("email", "Provided email is invalid.", "INVALID")])
        if not input.get("channel"):
            return _payload(
                ctx,
                None,
                [_error("channel", "Channel slug must be specified when user_email is provided.", "REQUIRED")],
            )
    for item in (input.get("metadata") or []) + (input.get("privateMetadata") or []):
        if not item["key"].strip():
            raise GraphQLError("not emulated: an empty metadata key")
    app = ctx.requestor.app
    card = GiftCard(
        pk=st.next_id("gift_card"),
        code=code or _new_code(st),
        currency=currency,
        initial_balance=amount,
        current_balance=amount,
        is_active=bool(input["isActive"]),
        expiry_date=expiry,
        created_by_app_pk=app.pk if app is not None else None,
        metadata={i["key"].strip(): i["value"] for i in input.get("metadata") or []},
        private_metadata={i["key"].strip(): i["value"] for i in input.get("privateMetadata") or []},
    )
    card.tags = sorted({_tag(st, t) for t in input.get("addTags") or []})
    st.gift_cards[card.pk] = card
    app_pk = app.pk if app is not None else None
    st.add_gift_card_event(
        card, "issued", app_pk=app_pk, balance={"initial_balance": amount, "current_balance": amount}
    )
    if input.get("note"):
        st.add_gift_card_event(card, "note_added", app_pk=app_pk, message=input["note"])
    if email:
        st.notifications.append(
            {"event": "SEND_GIFT_CARD", "email": email, "gift_card": card.id, "channel": input["channel"]}
        )
        st.add_gift_card_event(card, "sent_to_customer", app_pk=app_pk, email=email)
    ctx.emulator._record_event(ctx, "GIFT_CARD_CREATED")
    return _payload(ctx, card, [])


def _new_code(st) -> str:
    taken = st.all_codes()
    code = generate_promo_code()
    while code in taken:
        code = generate_promo_code()
    return code


def _set_active(ctx: ExecContext, id: str, active: bool):
    _require(ctx)
    card, errors = _card_or_error(ctx, id, "giftCardId")
    if errors:
        return _payload(ctx, None, errors)
    if card.is_active != active:
        app = ctx.requestor.app
        ctx.emulator.state.add_gift_card_event(
            card, "activated" if active else "deactivated", app_pk=app.pk if app is not None else None
        )
    card.is_active = active
    ctx.emulator._record_event(ctx, "GIFT_CARD_STATUS_CHANGED")
    return _payload(ctx, card, [])


@root_resolver("Mutation", "giftCardDeactivate")
def m_gift_card_deactivate(ctx: ExecContext, info, id: str):
    return _set_active(ctx, id, False)


@root_resolver("Mutation", "giftCardActivate")
def m_gift_card_activate(ctx: ExecContext, info, id: str):
    return _set_active(ctx, id, True)


@root_resolver("Mutation", "giftCardAddNote")
def m_gift_card_add_note(ctx: ExecContext, info, id: str, input: dict[str, Any]):
    _require(ctx)
    card, errors = _card_or_error(ctx, id)
    if errors:
        return {"giftCard": None, "event": None, "errors": errors}
    message = (input.get("message") or "").strip()
    if not message:
        return {"giftCard": None, "event": None, "errors": [_error("message", "Message can't be empty.", "REQUIRED")]}
    app = ctx.requestor.app
    event = ctx.emulator.state.add_gift_card_event(
        card, "note_added", message=message, app_pk=app.pk if app is not None else None
    )
    ctx.emulator._record_event(ctx, "GIFT_CARD_UPDATED")
    return {"giftCard": ctx.views.gift_card(card), "event": ctx.views.gift_card_event(card, event), "errors": []}


@root_resolver("Query", "giftCard")
def q_gift_card(ctx: ExecContext, info, id: str):
    try:
        type_name, pk = from_global_id(id)
    except ValueError as exc:
        raise GraphQLError(f"Couldn't resolve id: {id}.") from exc
    if type_name != "GiftCard":
        raise GraphQLError("Must receive a GiftCard id.")
    card = ctx.emulator.state.gift_cards.get(int(pk)) if pk.isdigit() else None
    return ctx.views.gift_card(card) if card is not None else None


def _in_range(value: Decimal, bounds: dict[str, Any]) -> bool:
    low, high = bounds.get("gte"), bounds.get("lte")
    return (not low or value >= Decimal(str(low))) and (not high or value <= Decimal(str(high)))


def _matches(card: GiftCard, flt: dict[str, Any]) -> bool:
    for key, value in flt.items():
        if value is None:
            continue
        if key == "isActive":
            if card.is_active != value:
                return False
        elif key == "metadata":
            for item in value:
                wanted = item.get("value")
                if (card.metadata.get(item["key"]) != wanted) if wanted else (item["key"] not in card.metadata):
                    return False
        elif key == "tags":
            if value and not set(card.tags) & set(value):
                return False
        elif key == "used":
            if (card.used_by_email is not None) != value:
                return False
        elif key == "currency":
            if value and card.currency != value:
                return False
        elif key == "code":
            if value and card.code != value:
                return False
        elif key in ("currentBalance", "initialBalance"):
            if not flt.get("currency"):
                raise GraphQLError("You must provide a `currency` filter parameter for filtering by price.")
            amount = card.current_balance if key == "currentBalance" else card.initial_balance
            if not _in_range(amount, value):
                return False
        else:
            raise GraphQLError(f"not emulated: GiftCardFilterInput.{key}")
    return True


@root_resolver("Query", "giftCards")
def q_gift_cards(ctx: ExecContext, info, filter=None, search=None, sortBy=None, **page):
    cards = [c for c in ctx.emulator.state.gift_cards.values() if _matches(c, filter or {})]
    if search:
        needle = search.lower()
        cards = [
            c
            for c in cards
            if needle in c.code.lower() or any(needle in t for t in c.tags) or needle in (c.used_by_email or "").lower()
        ]
    if sortBy:
        field = sortBy.get("field")
        if field == "CURRENT_BALANCE" and not (filter or {}).get("currency"):
            raise GraphQLError("Sorting by balance requires filtering by currency.")
        key = {"CURRENT_BALANCE": lambda c: (c.current_balance, c.pk), "CREATED_AT": lambda c: (c.created, c.pk)}.get(
            field, lambda c: c.pk
        )
        cards.sort(key=key, reverse=sortBy.get("direction") == "DESC")
    else:
        cards.sort(key=lambda c: c.pk)
    return connection(cards, info, key=lambda c: c.pk, node=ctx.views.gift_card, **page)


# ----------------------------------------------------------------------------------- use in orders


def applicable_gift_card(st, code: str, currency: str) -> GiftCard:
    """``add_gift_card_code_to_checkout``: an active, unexpired card in the channel's currency."""
    card = st.gift_card_by_code(code)
    if card is None or not card.usable_on(now().date(), currency):
        raise GiftCardNotApplicable(f"Promo code is invalid: {code}")
    return card


def pay_with_gift_cards(st, order: Order, cards: list[GiftCard], total_price_left: Decimal) -> Decimal:
    """``add_gift_cards_to_order``: each card pays what it can; returns what is left to pay."""
    for card in cards:
        if total_price_left <= 0:
            break
        previous = card.current_balance
        used = min(previous, total_price_left)
        card.current_balance = previous - used
        total_price_left -= used
        card.last_used_on = now()
        card.used_by_email = order.user_email
        order.gift_card_pks.append(card.pk)
        st.add_gift_card_event(
            card,
            "used_in_order",
            order_pk=order.pk,
            order_number=order.number,
            balance={"current_balance": card.current_balance, "old_current_balance": previous},
        )
    return total_price_left
