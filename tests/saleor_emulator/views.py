"""Render state records as GraphQL-shaped dicts (the "source" objects resolvers return).

Values may be plain data or callables ``f(info, **field_args)`` evaluated lazily by the default
field resolver. A key that is *absent* means "not emulated": querying it yields a GraphQL error
``not emulated: Type.field`` so gaps are visible instead of silently null.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from graphql import GraphQLError

from .schema import PermissionDenied
from .state import (
    COUNTRY_NAMES,
    PERMISSION_NAMES,
    App,
    Channel,
    Checkout,
    GiftCard,
    GiftCardEvent,
    Order,
    State,
    Voucher,
    VoucherChannelListing,
    VoucherCode,
    Webhook,
    event_to_typename,
    iso,
    to_global_id,
)
from .versions import SaleorVersion

MAX_PAGE = 100
ORDER_USER_PERMISSIONS = ["MANAGE_USERS", "MANAGE_ORDERS", "HANDLE_PAYMENTS", "HANDLE_TAXES"]


def money(amount: Decimal | float | int, currency: str) -> dict[str, Any]:
    amount = Decimal(str(amount))
    return {
        "__typename": "Money",
        "amount": float(amount),
        "currency": currency,
        "fractionalAmount": int((amount * 100).to_integral_value()),
        "fractionDigits": 2,
    }


def taxed_money(amount: Decimal, currency: str, tax_rate: Decimal = Decimal("0")) -> dict[str, Any]:
    """Gross `amount` (prices entered with tax); net = gross / (1 + tax_rate), to the cent."""
    gross = Decimal(str(amount))
    net = (gross / (1 + tax_rate)).quantize(Decimal("0.01")) if tax_rate else gross
    return {
        "__typename": "TaxedMoney",
        "gross": money(gross, currency),
        "net": money(net, currency),
        "tax": money(gross - net, currency),
        "currency": currency,
    }


def metadata_list(md: dict[str, str]) -> list[dict[str, str]]:
    return [{"__typename": "MetadataItem", "key": k, "value": v} for k, v in md.items()]


def meta_fields(md: dict[str, str], private_md: dict[str, str]) -> dict[str, Any]:
    def pick(store):
        return lambda info, keys=None: {k: v for k, v in store.items() if keys is None or k in keys}

    return {
        "metadata": metadata_list(md),
        "metafield": lambda info, key: md.get(key),
        "metafields": pick(md),
        "privateMetadata": metadata_list(private_md),
        "privateMetafield": lambda info, key: private_md.get(key),
        "privateMetafields": pick(private_md),
    }


def country(code: str) -> dict[str, Any]:
    return {"__typename": "CountryDisplay", "code": code, "country": COUNTRY_NAMES.get(code, code)}


def encode_cursor(key: Any) -> str:
    return base64.b64encode(json.dumps([str(key)]).encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        return json.loads(base64.b64decode(cursor))[0]
    except Exception as exc:  # noqa: BLE001 - mimic Saleor: any garbage is an invalid cursor
        raise GraphQLError("Received cursor is invalid.") from exc


def connection(
    items: list[Any],
    info,
    *,
    first=None,
    last=None,
    after=None,
    before=None,
    key: Callable[[Any], Any],
    node: Callable[[Any], dict],
    **_ignored,
) -> dict[str, Any]:
    """Relay connection with Saleor's pagination rules (first/last required, max 100)."""
    name = info.field_name if info is not None else "connection"
    if first is None and last is None:
        raise GraphQLError(f"You must provide a `first` or `last` value to properly paginate the `{name}` connection.")
    for arg, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            raise GraphQLError(
                f"Requesting {value} records on the `{name}` connection exceeds the "
                f"`{arg}` limit of {MAX_PAGE} records."
            )
        if value is not None and value < 0:
            raise GraphQLError(f"Argument `{arg}` cannot be negative.")
    total = len(items)
    keys = [str(key(i)) for i in items]
    start, end = 0, total
    if after is not None:
        k = decode_cursor(after)
        start = keys.index(k) + 1 if k in keys else total
    if before is not None:
        k = decode_cursor(before)
        end = keys.index(k) if k in keys else end
    window = items[start:end]
    has_next = has_prev = False
    if first is not None:
        has_next = len(window) > first
        window = window[:first]
    if last is not None:
        has_prev = len(window) > last
        window = window[-last:] if last else []
    edges = [{"__typename": "Edge", "node": node(i), "cursor": encode_cursor(key(i))} for i in window]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": has_next or (before is not None and end < total),
            "hasPreviousPage": has_prev or start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
        "totalCount": total,
    }


class Views:
    """Builds views for one GraphQL execution; ``state`` must be locked by the caller."""

    def __init__(self, state: State, api_url: str, domain: str, version: SaleorVersion | None = None) -> None:
        self.state = state
        self.api_url = api_url
        self.domain = domain
        self.version = version or SaleorVersion.of(None)

    # ------------------------------------------------------------------ simple objects
    def channel(self, ch: Channel) -> dict[str, Any]:
        return {
            "__typename": "Channel",
            "id": ch.id,
            "slug": ch.slug,
            "name": ch.name,
            "isActive": ch.is_active,
            "currencyCode": ch.currency,
            "hasOrders": any(o.channel_slug == ch.slug for o in self.state.orders.values()),
            "defaultCountry": country(ch.country),
            "countries": [country(ch.country)],
            **meta_fields(ch.metadata, ch.private_metadata),
        }

    def user(self, user: dict[str, Any] | None) -> dict[str, Any] | None:
        if not user:
            return None
        return {
            "__typename": "User",
            "id": user.get("id"),
            "email": user.get("email"),
            "firstName": user.get("firstName", ""),
            "lastName": user.get("lastName", ""),
            "isStaff": user.get("isStaff", False),
            "isActive": user.get("isActive", True),
            "isConfirmed": user.get("isConfirmed", True),
            "languageCode": user.get("languageCode", "EN"),
            **meta_fields(user.get("metadata", {}), user.get("privateMetadata", {})),
        }

    def address(self, addr: dict[str, Any] | None, owner_id: str = "") -> dict[str, Any] | None:
        if not addr:
            return None
        data = {
            "__typename": "Address",
            "id": addr.get("id")
            or to_global_id(
                "Address", uuid.uuid5(uuid.NAMESPACE_URL, owner_id + json.dumps(addr, sort_keys=True)).int % 100000
            ),
            "firstName": addr.get("firstName", ""),
            "lastName": addr.get("lastName", ""),
            "companyName": addr.get("companyName", ""),
            "streetAddress1": addr.get("streetAddress1", ""),
            "streetAddress2": addr.get("streetAddress2", ""),
            # Saleor's address normalisation upper-cases the city.
            "city": (addr.get("city") or "").upper(),
            "cityArea": addr.get("cityArea", ""),
            "postalCode": addr.get("postalCode", ""),
            "country": country(addr.get("country", "US")),
            "countryArea": addr.get("countryArea", ""),
            "phone": addr.get("phone", ""),
            "isDefaultShippingAddress": None,
            "isDefaultBillingAddress": None,
            **meta_fields({}, {}),
        }
        return data

    def permission(self, code: str) -> dict[str, Any]:
        return {"__typename": "Permission", "code": code, "name": PERMISSION_NAMES.get(code, code)}

    def webhook(self, wh: Webhook, app: App) -> dict[str, Any]:
        def events(names):
            return [{"eventType": e, "name": event_to_typename(e)} for e in names]

        return {
            "__typename": "Webhook",
            "id": wh.id,
            "name": wh.name,
            "targetUrl": wh.target_url,
            "isActive": wh.is_active,
            "subscriptionQuery": wh.query,
            "asyncEvents": events(wh.async_events),
            "syncEvents": events(wh.sync_events),
            "events": events(wh.async_events + wh.sync_events),
            "customHeaders": json.dumps(wh.custom_headers),
            "secretKey": None,
            "app": lambda info: self.app(app),
        }

    def app(self, app: App) -> dict[str, Any]:
        return {
            "__typename": "App",
            "id": app.id,
            "identifier": app.identifier,
            "name": app.name,
            "isActive": app.is_active,
            "permissions": [self.permission(p) for p in app.permissions],
            "created": iso(app.created),
            "type": "THIRDPARTY",
            "version": app.version,
            "aboutApp": app.about,
            "appUrl": app.app_url,
            "manifestUrl": app.manifest_url,
            "homepageUrl": None,
            "supportUrl": None,
            "dataPrivacyUrl": None,
            "author": None,
            "tokens": [
                {
                    "__typename": "AppToken",
                    "id": to_global_id("AppToken", app.pk),
                    "name": "Default token",
                    "authToken": app.token[-4:],
                }
            ],
            "webhooks": [self.webhook(w, app) for w in app.webhooks],
            "extensions": [],
            **meta_fields(app.metadata, app.private_metadata),
        }

    # ------------------------------------------------------------------ vouchers
    def voucher_code(self, vc: VoucherCode) -> dict[str, Any]:
        return {
            "__typename": "VoucherCode",
            "id": vc.id,
            "code": vc.code,
            "used": vc.used,
            "isActive": vc.is_active,
            "createdAt": iso(vc.created_at),
        }

    def voucher_listing(self, listing: VoucherChannelListing) -> dict[str, Any]:
        ch = self.state.channel_by_slug(listing.channel_slug)
        return {
            "__typename": "VoucherChannelListing",
            "id": listing.id,
            "channel": self.channel(ch),
            "discountValue": float(listing.discount_value),
            "currency": listing.currency,
            "minSpent": money(listing.min_spent, listing.currency) if listing.min_spent is not None else None,
        }

    def voucher(self, v: Voucher, channel_slug: str | None = None) -> dict[str, Any]:
        listing = v.listing_for(channel_slug)
        return {
            "__typename": "Voucher",
            "id": v.id,
            "name": v.name,
            "code": v.codes[0].code if v.codes else None,
            "codes": lambda info, **args: connection(
                list(v.codes), info, key=lambda c: c.pk, node=self.voucher_code, **args
            ),
            "usageLimit": v.usage_limit,
            "used": sum(c.used for c in v.codes),
            "startDate": iso(v.start_date),
            "endDate": iso(v.end_date),
            "applyOncePerOrder": v.apply_once_per_order,
            "applyOncePerCustomer": v.apply_once_per_customer,
            "singleUse": v.single_use,
            "onlyForStaff": v.only_for_staff,
            "minCheckoutItemsQuantity": v.min_checkout_items_quantity,
            "countries": [country(c) for c in v.countries],
            "discountValueType": v.discount_value_type,
            "discountValue": float(listing.discount_value) if listing else None,
            "currency": listing.currency if listing else None,
            "minSpent": money(listing.min_spent, listing.currency)
            if listing and listing.min_spent is not None
            else None,
            "type": v.type,
            "channelListings": [self.voucher_listing(listing) for listing in v.listings],
            "translation": lambda info, languageCode: None,
            **meta_fields(v.metadata, v.private_metadata),
        }

    # ------------------------------------------------------------------ orders
    def order(self, o: Order) -> dict[str, Any]:
        cur = o.currency
        ch = self.state.channel_by_slug(o.channel_slug)
        voucher = self.state.vouchers.get(o.voucher_pk) if o.voucher_pk is not None else None
        zero = Decimal("0")
        payment_status = (
            "FULLY_REFUNDED"
            if o.refunded >= o.total and o.refunded > 0
            else "PARTIALLY_REFUNDED"
            if o.refunded > 0
            else "FULLY_CHARGED"
            if o.charged >= o.total and o.charged > 0
            else "PARTIALLY_CHARGED"
            if o.charged > 0
            else "NOT_CHARGED"
        )
        return {
            "__typename": "Order",
            "id": o.id,
            "number": str(o.number),
            "created": iso(o.created),
            "updatedAt": iso(o.updated_at),
            "status": o.status,
            "statusDisplay": o.status.replace("_", " ").capitalize(),
            "origin": o.origin,
            "original": None,
            "chargeStatus": o.charge_status,
            "authorizeStatus": o.authorize_status,
            "isPaid": o.is_paid,
            "paymentStatus": payment_status,
            "checkoutId": o.checkout_id,
            "userEmail": o.user_email,
            "user": lambda info: self.order_user(o, info),
            "channel": self.channel(ch),
            "total": taxed_money(o.total, cur, o.tax_rate),
            "undiscountedTotal": taxed_money(max(o.subtotal + o.shipping, o.total), cur, o.tax_rate),
            "subtotal": taxed_money(o.subtotal, cur, o.tax_rate),
            "shippingPrice": taxed_money(o.shipping - o.shipping_discount, cur, o.tax_rate),
            "undiscountedShippingPrice": money(o.shipping, cur),
            "totalCharged": money(o.charged, cur),
            "totalCaptured": money(o.charged, cur),
            "totalAuthorized": money(o.authorized, cur),
            "totalRefunded": money(o.refunded, cur),
            "totalCanceled": money(zero, cur),
            "totalBalance": money(o.charged - o.total, cur),
            "totalGrantedRefund": money(zero, cur),
            "totalRemainingGrant": money(zero, cur),
            "totalRefundPending": money(zero, cur),
            "totalAuthorizePending": money(zero, cur),
            "totalChargePending": money(zero, cur),
            "totalCancelPending": money(zero, cur),
            "voucherCode": o.voucher_code,
            "voucher": self.voucher(voucher, o.channel_slug) if voucher else None,
            "shippingAddress": self.address(o.shipping_address, o.id),
            "billingAddress": self.address(o.billing_address or o.shipping_address, o.id + "b"),
            "languageCodeEnum": o.language,
            "languageCode": o.language.lower(),
            "customerNote": o.customer_note,
            "externalReference": o.external_reference,
            "displayGrossPrices": True,
            "giftCards": [self.gift_card(self.state.gift_cards[pk]) for pk in o.gift_card_pks],
            "isShippingRequired": any(line.get("isShippingRequired", True) for line in o.lines),
            "lines": [self.order_line(o, line) for line in o.lines],
            "discounts": [self.order_discount(o, d) for d in o.discounts],
            "errors": [],
            "canFinalize": True,
            "token": str(o.pk),
            "trackingClientId": "",
            **meta_fields(o.metadata, o.private_metadata),
        }

    def order_user(self, o: Order, info) -> dict[str, Any] | None:
        """core ``Order.resolve_user``: the buyer's account only for its owner or a requestor with one
        of these permissions (whatever the SDL description says about orders from 3.2 on)."""
        if not o.user:
            return None
        requestor = info.context.requestor
        is_owner = bool(requestor.user) and requestor.user.get("id") == o.user.get("id")
        if not is_owner and not requestor.satisfies(ORDER_USER_PERMISSIONS):
            raise PermissionDenied(permissions=ORDER_USER_PERMISSIONS + ["OWNER"])
        return self.user(o.user)

    def order_line(self, o: Order, line: dict[str, Any]) -> dict[str, Any]:
        cur = o.currency
        unit = Decimal(str(line.get("unitPrice", "0")))
        qty = int(line.get("quantity", 1))
        return {
            "__typename": "OrderLine",
            "id": line["id"],
            "productName": line.get("productName", "Emulated product"),
            "variantName": line.get("variantName", ""),
            "translatedProductName": "",
            "translatedVariantName": "",
            "productSku": line.get("productSku"),
            "productVariantId": line.get("productVariantId"),
            "isShippingRequired": line.get("isShippingRequired", True),
            "quantity": qty,
            "quantityFulfilled": qty if o.status == "FULFILLED" else 0,
            "quantityToFulfill": 0 if o.status == "FULFILLED" else qty,
            "taxRate": 0.0,
            "unitPrice": taxed_money(unit, cur),
            "undiscountedUnitPrice": taxed_money(unit, cur),
            "unitDiscount": money(Decimal("0"), cur),
            "unitDiscountReason": None,
            "unitDiscountValue": 0.0,
            "unitDiscountType": None,
            "totalPrice": taxed_money(unit * qty, cur),
            "undiscountedTotalPrice": taxed_money(unit * qty, cur),
            "isPriceOverridden": False,
            "priceOverrideReason": None,
            "voucherCode": None,
            "isGift": bool(line.get("isGift", False)),
            "saleId": None,
            "discounts": [],
            **meta_fields(line.get("metadata", {}), {}),
        }

    def order_discount(self, o: Order, d: dict[str, Any]) -> dict[str, Any]:
        amount = Decimal(str(d.get("amount", "0")))
        return {
            "__typename": "OrderDiscount",
            "id": d["id"],
            "type": d.get("type", "VOUCHER"),
            "name": d.get("name"),
            "translatedName": d.get("name"),
            "valueType": d.get("valueType", "FIXED"),
            "value": float(Decimal(str(d.get("value", amount)))),
            "reason": d.get("reason"),
            "amount": money(amount, o.currency),
            "total": money(amount, o.currency),
        }

    # ------------------------------------------------------------------ checkouts
    def checkout(self, c: Checkout) -> dict[str, Any]:
        discount = self.checkout_discount(c)
        subtotal = max(Decimal("0"), c.subtotal - discount)
        cards = [self.state.gift_cards[pk] for pk in c.gift_card_pks]
        # core calculate_checkout_total_with_gift_cards: the cards' balances come off the total
        total = max(Decimal("0"), subtotal - sum((g.current_balance for g in cards), Decimal("0")))
        voucher = (
            self.state.find_code(c.voucher_code)[0] if c.voucher_code and self.state.find_code(c.voucher_code) else None
        )
        return {
            "__typename": "Checkout",
            "id": c.id,
            "token": str(c.token),
            "email": c.email,
            "created": iso(c.created),
            "updatedAt": iso(c.last_change),
            "lastChange": iso(c.last_change),
            "channel": self.channel(self.state.channel_by_slug(c.channel_slug)),
            "voucherCode": c.voucher_code,
            "voucher": self.voucher(voucher, c.channel_slug) if voucher else None,
            "discount": money(discount, c.currency),
            "discountName": voucher.name if voucher else None,
            "translatedDiscountName": voucher.name if voucher else None,
            "subtotalPrice": taxed_money(subtotal, c.currency),
            "totalPrice": taxed_money(total, c.currency),
            "lines": [],
            "quantity": 0,
            "giftCards": [self.gift_card(g) for g in cards],
            "user": None,
            "isShippingRequired": False,
            "languageCode": "EN",
            **meta_fields(c.metadata, c.private_metadata),
        }

    def checkout_discount(self, c: Checkout) -> Decimal:
        found = self.state.find_code(c.voucher_code) if c.voucher_code else None
        if not found:
            return Decimal("0")
        listing = found[0].listing_for(c.channel_slug)
        if listing is None:
            return Decimal("0")
        if found[0].discount_value_type == "PERCENTAGE":
            return (c.subtotal * listing.discount_value / 100).quantize(Decimal("0.01"))
        return min(c.subtotal, listing.discount_value)

    # ------------------------------------------------------------------ gift cards
    def gift_card(self, g: GiftCard) -> dict[str, Any]:
        app = self.state.apps.get(g.created_by_app_pk) if g.created_by_app_pk is not None else None
        return {
            "__typename": "GiftCard",
            "id": g.id,
            "code": g.code,
            "displayCode": g.code[-4:],  # core GiftCard.display_code
            "last4CodeChars": g.code[-4:],
            "created": iso(g.created),
            "createdBy": None,
            "createdByEmail": None,
            "usedBy": None,
            "usedByEmail": g.used_by_email,
            "lastUsedOn": iso(g.last_used_on),
            "expiryDate": g.expiry_date.isoformat() if g.expiry_date else None,
            "app": self.app(app) if app is not None else None,
            "product": None,
            "events": lambda info, filter=None: [
                self.gift_card_event(g, e) for e in g.events if _event_matches(e, filter)
            ],
            "tags": [
                {
                    "__typename": "GiftCardTag",
                    "id": to_global_id("GiftCardTag", self.state.gift_card_tags[t]),
                    "name": t,
                }
                for t in g.tags
            ],
            "boughtInChannel": None,
            "isActive": g.is_active,
            "initialBalance": money(g.initial_balance, g.currency),
            "currentBalance": money(g.current_balance, g.currency),
            "user": None,
            "endDate": None,
            "startDate": None,
            **meta_fields(g.metadata, g.private_metadata),
        }

    def gift_card_event(self, g: GiftCard, e: GiftCardEvent) -> dict[str, Any]:
        app = self.state.apps.get(e.app_pk) if e.app_pk is not None else None
        balance = None
        if e.balance is not None:
            balance = {
                "__typename": "GiftCardEventBalance",
                **{
                    camel: money(e.balance[key], g.currency) if e.balance.get(key) is not None else None
                    for camel, key in (
                        ("initialBalance", "initial_balance"),
                        ("currentBalance", "current_balance"),
                        ("oldInitialBalance", "old_initial_balance"),
                        ("oldCurrentBalance", "old_current_balance"),
                    )
                },
            }
        return {
            "__typename": "GiftCardEvent",
            "id": e.id,
            "date": iso(e.date),
            "type": e.type.upper(),
            "user": None,
            "app": self.app(app) if app is not None else None,
            "message": e.message,
            "email": e.email,
            "orderId": to_global_id("Order", e.order_pk) if e.order_pk else None,
            "orderNumber": str(e.order_number) if e.order_number is not None else None,
            "tags": None,
            "oldTags": None,
            "balance": balance,
            "expiryDate": None,
            "oldExpiryDate": None,
        }

    # ------------------------------------------------------------------ shop
    def shop(self) -> dict[str, Any]:
        return {
            "__typename": "Shop",
            "id": to_global_id("Shop", 1),
            "name": self.state.shop_name,
            "description": "Saleor emulator",
            "domain": {
                "__typename": "Domain",
                "host": self.domain.split(":")[0],
                "sslEnabled": False,
                "url": f"http://{self.domain}",
            },
            "defaultMailSenderName": "",
            "defaultMailSenderAddress": None,
            "defaultCountry": country("US"),
            "channelCurrencies": sorted({c.currency for c in self.state.channels}),
            "version": self.version.release,
            "schemaVersion": self.version.schema_version,
            "headerText": "",
            "includeTaxesInPrices": True,
            "displayGrossPrices": True,
            "chargeTaxesOnShipping": True,
            "fulfillmentAutoApprove": True,
            "fulfillmentAllowUnpaid": True,
            "trackInventoryByDefault": True,
            "allowStorefrontTraffic": True,
            "permissions": [self.permission(p) for p in PERMISSION_NAMES],
            "languages": [{"__typename": "LanguageDisplay", "code": "EN", "language": "English"}],
            **meta_fields(self.state.shop_metadata, {}),
        }


def _event_matches(event: GiftCardEvent, flt: dict[str, Any] | None) -> bool:
    """core ``filter_events_by_type`` / ``filter_events_by_orders``."""
    if not flt:
        return True
    if flt.get("type") and event.type.upper() != flt["type"]:
        return False
    if flt.get("orders") is not None:
        return event.order_pk is not None and to_global_id("Order", event.order_pk) in flt["orders"]
    return True


def iter_codes(vouchers: Iterable[Voucher]):
    for v in vouchers:
        for c in v.codes:
            yield v, c
