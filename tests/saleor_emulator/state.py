"""In-memory data of the emulated Saleor (apps, channels, vouchers, orders) and global-ID helpers.

All mutation of this state happens while holding ``State.lock`` (an ``RLock``); GraphQL execution
(API calls and webhook payload rendering) runs under the same lock, so every response and payload
is a consistent snapshot. HTTP calls *to* the app (webhooks, token POST) are never made while the
lock is held, because the app calls back into the emulator while handling them.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

SALEOR_VERSION = "3.23.28"
SCHEMA_VERSION = "3.23"

ALL_PERMISSIONS = [
    "MANAGE_USERS",
    "MANAGE_STAFF",
    "IMPERSONATE_USER",
    "MANAGE_APPS",
    "MANAGE_OBSERVABILITY",
    "MANAGE_CHECKOUTS",
    "HANDLE_CHECKOUTS",
    "HANDLE_TAXES",
    "MANAGE_TAXES",
    "MANAGE_CHANNELS",
    "MANAGE_CUSTOMER_TYPES_AND_ATTRIBUTES",
    "MANAGE_DISCOUNTS",
    "MANAGE_GIFT_CARD",
    "MANAGE_MENUS",
    "MANAGE_ORDERS",
    "MANAGE_ORDERS_IMPORT",
    "MANAGE_PAGES",
    "MANAGE_PAGE_TYPES_AND_ATTRIBUTES",
    "HANDLE_PAYMENTS",
    "MANAGE_PLUGINS",
    "MANAGE_PRODUCTS",
    "MANAGE_PRODUCT_TYPES_AND_ATTRIBUTES",
    "MANAGE_SHIPPING",
    "MANAGE_SETTINGS",
    "MANAGE_TRANSLATIONS",
]

PERMISSION_NAMES = {
    "MANAGE_USERS": "Manage customers.",
    "MANAGE_STAFF": "Manage staff.",
    "IMPERSONATE_USER": "Impersonate user.",
    "MANAGE_APPS": "Manage apps",
    "MANAGE_OBSERVABILITY": "Access to observability",
    "MANAGE_CHECKOUTS": "Manage checkouts",
    "HANDLE_CHECKOUTS": "Handle checkouts",
    "HANDLE_TAXES": "Handle taxes",
    "MANAGE_TAXES": "Manage taxes",
    "MANAGE_CHANNELS": "Manage channels.",
    "MANAGE_CUSTOMER_TYPES_AND_ATTRIBUTES": "Manage customer types and attributes.",
    "MANAGE_DISCOUNTS": "Manage sales and vouchers.",
    "MANAGE_GIFT_CARD": "Manage gift cards.",
    "MANAGE_MENUS": "Manage navigation.",
    "MANAGE_ORDERS": "Manage orders.",
    "MANAGE_ORDERS_IMPORT": "Manage orders import.",
    "MANAGE_PAGES": "Manage pages.",
    "MANAGE_PAGE_TYPES_AND_ATTRIBUTES": "Manage page types and attributes.",
    "HANDLE_PAYMENTS": "Handle payments",
    "MANAGE_PLUGINS": "Manage plugins",
    "MANAGE_PRODUCTS": "Manage products.",
    "MANAGE_PRODUCT_TYPES_AND_ATTRIBUTES": "Manage product types and attributes.",
    "MANAGE_SHIPPING": "Manage shipping.",
    "MANAGE_SETTINGS": "Manage settings.",
    "MANAGE_TRANSLATIONS": "Manage translations.",
}

COUNTRY_NAMES = {
    "US": "United States of America",
    "PL": "Poland",
    "GB": "United Kingdom",
    "DE": "Germany",
    "FR": "France",
    "CA": "Canada",
}

# Event -> permission an app needs to receive it (core saleor/webhook/event_types.py, subset).
EVENT_PERMISSIONS = {
    "ORDER_CREATED": "MANAGE_ORDERS",
    "ORDER_CONFIRMED": "MANAGE_ORDERS",
    "ORDER_PAID": "MANAGE_ORDERS",
    "ORDER_FULLY_PAID": "MANAGE_ORDERS",
    "ORDER_REFUNDED": "MANAGE_ORDERS",
    "ORDER_FULLY_REFUNDED": "MANAGE_ORDERS",
    "ORDER_UPDATED": "MANAGE_ORDERS",
    "ORDER_CANCELLED": "MANAGE_ORDERS",
    "ORDER_EXPIRED": "MANAGE_ORDERS",
    "ORDER_FULFILLED": "MANAGE_ORDERS",
    "ORDER_METADATA_UPDATED": "MANAGE_ORDERS",
    "VOUCHER_CREATED": "MANAGE_DISCOUNTS",
    "VOUCHER_UPDATED": "MANAGE_DISCOUNTS",
    "VOUCHER_DELETED": "MANAGE_DISCOUNTS",
    "VOUCHER_CODES_CREATED": "MANAGE_DISCOUNTS",
    "VOUCHER_CODES_DELETED": "MANAGE_DISCOUNTS",
    "VOUCHER_METADATA_UPDATED": "MANAGE_DISCOUNTS",
    "CUSTOMER_CREATED": "MANAGE_USERS",
    "CUSTOMER_UPDATED": "MANAGE_USERS",
    "GIFT_CARD_CREATED": "MANAGE_GIFT_CARD",
    "GIFT_CARD_UPDATED": "MANAGE_GIFT_CARD",
    "GIFT_CARD_STATUS_CHANGED": "MANAGE_GIFT_CARD",
    "GIFT_CARD_DELETED": "MANAGE_GIFT_CARD",
    "APP_INSTALLED": "MANAGE_APPS",
    "APP_UPDATED": "MANAGE_APPS",
    "APP_DELETED": "MANAGE_APPS",
    "APP_STATUS_CHANGED": "MANAGE_APPS",
}
# Lifecycle events reach the app itself regardless of permission (since 3.23.5).
APP_LIFECYCLE_EVENTS = {"APP_INSTALLED", "APP_UPDATED", "APP_DELETED", "APP_STATUS_CHANGED"}


def now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def to_global_id(type_name: str, pk: Any) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode("ascii")


def from_global_id(global_id: str) -> tuple[str, str]:
    """Decode like graphene; raises ValueError on garbage."""
    try:
        decoded = base64.b64decode(global_id.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, UnicodeEncodeError, ValueError) as exc:
        raise ValueError(f"Couldn't resolve id: {global_id}.") from exc
    type_name, sep, pk = decoded.partition(":")
    if not sep or not type_name:
        raise ValueError(f"Couldn't resolve id: {global_id}.")
    return type_name, pk


def generate_app_token() -> str:
    """Saleor app tokens: 30 random ASCII letters/digits (Django get_random_string(30))."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(30))


def generate_promo_code() -> str:
    code = secrets.token_hex(6).upper()
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def money(value: Any, places: int = 2) -> Decimal:
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def camel_to_event(type_name: str) -> str:
    """``OrderFullyPaid`` -> ``ORDER_FULLY_PAID``."""
    out = []
    for i, ch in enumerate(type_name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.upper())
    return "".join(out)


def event_to_typename(event: str) -> str:
    """``ORDER_FULLY_PAID`` -> ``OrderFullyPaid``."""
    return "".join(part.capitalize() for part in event.lower().split("_"))


# ----------------------------------------------------------------------------------- records


@dataclass
class Channel:
    pk: int
    slug: str
    name: str
    currency: str
    country: str
    is_active: bool = True
    metadata: dict[str, str] = field(default_factory=dict)
    private_metadata: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return to_global_id("Channel", self.pk)


@dataclass
class Webhook:
    pk: int
    app_pk: int
    name: str
    target_url: str
    query: str
    async_events: list[str]
    sync_events: list[str] = field(default_factory=list)
    is_active: bool = True
    custom_headers: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return to_global_id("Webhook", self.pk)


@dataclass
class App:
    """An installed (or directly created) app. ``token`` is the raw auth token."""

    pk: int
    identifier: str | None
    name: str
    permissions: list[str]
    token: str
    is_active: bool = True
    version: str | None = None
    about: str | None = None
    app_url: str | None = None
    manifest_url: str | None = None
    token_target_url: str | None = None
    audience: str | None = None
    manifest: dict[str, Any] | None = None
    created: datetime = field(default_factory=now)
    webhooks: list[Webhook] = field(default_factory=list)
    revoked_tokens: list[str] = field(default_factory=list)
    deleted: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    private_metadata: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return to_global_id("App", self.pk)

    def has_perm(self, perm: str) -> bool:
        return perm in self.permissions

    def webhooks_for(self, event: str) -> list[Webhook]:
        return [w for w in self.webhooks if event in w.async_events or event in w.sync_events]


@dataclass
class VoucherCode:
    pk: uuid.UUID
    code: str
    used: int = 0
    is_active: bool = True
    created_at: datetime = field(default_factory=now)

    @property
    def id(self) -> str:
        return to_global_id("VoucherCode", self.pk)


@dataclass
class VoucherChannelListing:
    pk: int
    channel_slug: str
    discount_value: Decimal
    currency: str
    min_spent: Decimal | None = None

    @property
    def id(self) -> str:
        return to_global_id("VoucherChannelListing", self.pk)


@dataclass
class Voucher:
    pk: int
    name: str | None
    type: str = "ENTIRE_ORDER"
    discount_value_type: str = "FIXED"
    single_use: bool = False
    apply_once_per_customer: bool = False
    apply_once_per_order: bool = False
    only_for_staff: bool = False
    usage_limit: int | None = None
    start_date: datetime = field(default_factory=now)
    end_date: datetime | None = None
    min_checkout_items_quantity: int | None = 0
    countries: list[str] = field(default_factory=list)
    codes: list[VoucherCode] = field(default_factory=list)
    listings: list[VoucherChannelListing] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    private_metadata: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return to_global_id("Voucher", self.pk)

    def listing_for(self, slug: str | None) -> VoucherChannelListing | None:
        return next((listing for listing in self.listings if listing.channel_slug == slug), None)


@dataclass
class Order:
    pk: uuid.UUID
    number: int
    channel_slug: str
    currency: str
    user_email: str | None
    total: Decimal
    subtotal: Decimal
    user: dict[str, Any] | None = None
    status: str = "UNFULFILLED"
    origin: str = "CHECKOUT"
    charged: Decimal = Decimal("0")
    authorized: Decimal = Decimal("0")
    refunded: Decimal = Decimal("0")
    checkout_pk: uuid.UUID | None = None
    voucher_code: str | None = None
    voucher_pk: int | None = None
    shipping_address: dict[str, Any] | None = None
    billing_address: dict[str, Any] | None = None
    language: str = "EN"
    customer_note: str = ""
    created: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    metadata: dict[str, str] = field(default_factory=dict)
    private_metadata: dict[str, str] = field(default_factory=dict)
    external_reference: str | None = None
    # [{"id", "productName", "variantName", "productSku", "quantity", "unitPrice" (Decimal), "isGift"}]
    lines: list[dict[str, Any]] = field(default_factory=list)
    # [{"id", "type", "name", "valueType", "value" (Decimal), "amount" (Decimal), "reason"}]
    discounts: list[dict[str, Any]] = field(default_factory=list)
    shipping: Decimal = Decimal("0")  # undiscounted shipping price (gross)
    shipping_discount: Decimal = Decimal("0")  # what a SHIPPING voucher took off it
    tax_rate: Decimal = Decimal("0")  # prices are entered with tax (gross); net = gross / (1 + rate)
    gift_card_pks: list[int] = field(default_factory=list)  # gift cards that paid part of it

    @property
    def id(self) -> str:
        return to_global_id("Order", self.pk)

    @property
    def checkout_id(self) -> str | None:
        return to_global_id("Checkout", self.checkout_pk) if self.checkout_pk else None

    # Transaction-flow derived statuses (core saleor/order/utils.py, simplified).
    @property
    def charge_status(self) -> str:
        total = self.total
        if self.charged <= 0:
            return "FULL" if total <= 0 else "NONE"
        if self.charged < total:
            return "PARTIAL"
        if self.charged == total:
            return "FULL"
        return "OVERCHARGED"

    @property
    def authorize_status(self) -> str:
        covered = self.charged + self.authorized
        if covered <= 0:
            return "FULL" if self.total <= 0 else "NONE"
        return "FULL" if covered >= self.total else "PARTIAL"

    @property
    def is_paid(self) -> bool:
        return self.charged >= self.total


@dataclass
class Checkout:
    """A storefront's checkout. Saleor's Checkout primary key is its ``token`` (a UUID)."""

    token: uuid.UUID
    channel_slug: str
    currency: str
    email: str | None = None
    subtotal: Decimal = Decimal("0")
    voucher_code: str | None = None
    gift_card_pks: list[int] = field(default_factory=list)  # added with checkoutAddPromoCode
    metadata: dict[str, str] = field(default_factory=dict)
    private_metadata: dict[str, str] = field(default_factory=dict)
    created: datetime = field(default_factory=now)
    last_change: datetime = field(default_factory=now)

    @property
    def id(self) -> str:
        return to_global_id("Checkout", self.token)


@dataclass
class GiftCardEvent:
    """core ``giftcard.models.GiftCardEvent`` (``type`` as the GiftCardEventsEnum value)."""

    pk: int
    type: str
    date: datetime = field(default_factory=now)
    app_pk: int | None = None
    message: str | None = None
    email: str | None = None
    order_pk: uuid.UUID | None = None
    order_number: int | None = None
    balance: dict[str, Decimal] | None = None  # {"current_balance", "old_current_balance", ...}

    @property
    def id(self) -> str:
        return to_global_id("GiftCardEvent", self.pk)


@dataclass
class GiftCard:
    """core ``giftcard.models.GiftCard``: a code Saleor generates, a balance in one currency."""

    pk: int
    code: str
    currency: str
    initial_balance: Decimal
    current_balance: Decimal
    is_active: bool = True
    expiry_date: date | None = None
    tags: list[str] = field(default_factory=list)
    created: datetime = field(default_factory=now)
    created_by_app_pk: int | None = None
    used_by_email: str | None = None
    last_used_on: datetime | None = None
    events: list[GiftCardEvent] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    private_metadata: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return to_global_id("GiftCard", self.pk)

    def usable_on(self, day: date, currency: str) -> bool:
        """``GiftCard.objects.active(date).filter(currency=...)`` as checkoutAddPromoCode asks it."""
        return self.is_active and (self.expiry_date is None or self.expiry_date >= day) and self.currency == currency


class State:
    """All emulated data. Counters start where a populated Saleor would plausibly be."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.channels: list[Channel] = [
            Channel(1, "default-channel", "Default Channel", "USD", "US"),
            Channel(2, "channel-pln", "Channel-PLN", "PLN", "PL"),
        ]
        self.apps: dict[int, App] = {}
        self.vouchers: dict[int, Voucher] = {}
        self.orders: dict[uuid.UUID, Order] = {}
        self.checkouts: dict[uuid.UUID, Checkout] = {}
        self.gift_card_codes: set[str] = set()
        self.gift_card_codes: set[str] = set()  # codes of gift cards made outside the emulator's API
        self.gift_cards: dict[int, GiftCard] = {}
        # What Saleor would have e-mailed itself (NOTIFY_USER for giftCardCreate with userEmail).
        self.notifications: list[dict[str, Any]] = []
        self.shop_metadata: dict[str, str] = {}
        self.shop_name = "Emulated Shop"  # core's Site.name; `shopDomainUpdate(input: {name})` changes it
        self._seq: dict[str, int] = {
            "app": 0,
            "webhook": 0,
            "voucher": 0,
            "listing": 0,
            "order": 99,
            "gift_card": 0,
            "gift_card_event": 0,
            "gift_card_tag": 0,
        }
        self.gift_card_tags: dict[str, int] = {}  # name -> pk (core GiftCardTag, names lower-cased)

    def next_id(self, kind: str) -> int:
        with self.lock:
            self._seq[kind] += 1
            return self._seq[kind]

    # ------------------------------------------------------------------ lookups
    def channel_by_slug(self, slug: str) -> Channel | None:
        return next((c for c in self.channels if c.slug == slug), None)

    def channel_by_pk(self, pk: Any) -> Channel | None:
        return next((c for c in self.channels if str(c.pk) == str(pk)), None)

    def app_by_token(self, token: str | None) -> App | None:
        if not token:
            return None
        for app in self.apps.values():
            if app.token == token and not app.deleted:
                return app
        return None

    def all_codes(self) -> set[str]:
        codes = {c.code for v in self.vouchers.values() for c in v.codes}
        return codes | self.gift_card_codes | {g.code for g in self.gift_cards.values()}

    def gift_card_by_code(self, code: str) -> GiftCard | None:
        return next((g for g in self.gift_cards.values() if g.code == code), None)

    def add_gift_card_event(self, card: GiftCard, type_: str, **fields: Any) -> GiftCardEvent:
        event = GiftCardEvent(pk=self.next_id("gift_card_event"), type=type_, **fields)
        card.events.append(event)
        return event

    def find_code(self, code: str) -> tuple[Voucher, VoucherCode] | None:
        for voucher in self.vouchers.values():
            for vc in voucher.codes:
                if vc.code == code:
                    return voucher, vc
        return None

    def checkout_by_ref(self, ref: Any) -> Checkout | None:
        """A Checkout global ID or its token (Saleor's metadata mutations take either)."""
        if isinstance(ref, Checkout):
            return ref
        try:
            type_name, pk = from_global_id(str(ref))
        except ValueError:
            type_name, pk = "Checkout", str(ref)
        if type_name != "Checkout":
            return None
        try:
            return self.checkouts.get(uuid.UUID(pk))
        except ValueError:
            return None

    def order_by_ref(self, ref: Any) -> Order:
        """Accept an Order record, an order dict (with ``id``), a global ID or a number."""
        if isinstance(ref, Order):
            return ref
        if isinstance(ref, dict):
            ref = ref.get("id")
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            for order in self.orders.values():
                if order.number == int(ref):
                    return order
            raise KeyError(f"no order number {ref}")
        type_name, pk = from_global_id(str(ref))
        if type_name != "Order":
            raise KeyError(f"not an Order id: {ref}")
        return self.orders[uuid.UUID(pk)]
