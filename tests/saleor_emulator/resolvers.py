"""Query and Mutation root resolvers (the Saleor behaviour the referral app relies on).

Business rules are taken from core 3.23 (``saleor/graphql/discount/mutations/voucher/*.py``,
``saleor/graphql/order/filters.py``, ``saleor/graphql/meta/mutations``):

* ``voucherCreate``: ``code`` xor ``addCodes`` (GRAPHQL_ERROR otherwise), codes are stripped, blank
  codes are generated as ``XXXX-XXXX-XXXX``, duplicates in the input -> DUPLICATED_INPUT_ITEM
  (``field: "codes"``), codes already used by any voucher or gift card -> ALREADY_EXISTS
  (``field: "codes"``, ``message: "Promo code already exists."``, ``voucherCodes``), ``voucher: null``.
* ``voucherUpdate``: same code checks; ``singleUse`` cannot change once a code was used
  (VOUCHER_ALREADY_USED).
* ``voucherChannelListingUpdate``: unknown voucher -> NOT_FOUND (field ``id``); unknown channel ->
  GRAPHQL_ERROR on ``channelId`` ("Could not resolve to a node with the global id list of ..."),
  as core's ``get_nodes_or_error`` does; missing value on a new listing -> REQUIRED; PERCENTAGE > 100
  -> INVALID "Invalid percentage value."; channel in add+remove -> DUPLICATED_INPUT_ITEM.
* ``voucherCodeBulkDelete``: non-VoucherCode ids -> INVALID "Invalid VoucherCode ID." on path ``ids``,
  count 0; unknown (but well-formed) ids are ignored.
* ``orders(filter: {customer})``: an e-mail matches ``userEmail``/``user.email`` case-insensitively
  and exactly; anything else matches names/e-mails by substring.
* ``vouchers(filter: {search})``: case-insensitive substring of the name or of any code.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError

from .schema import ExecContext, PermissionDenied, root_resolver
from .state import (
    Checkout,
    Order,
    Voucher,
    VoucherChannelListing,
    VoucherCode,
    from_global_id,
    generate_promo_code,
    now,
)
from .views import connection

# ----------------------------------------------------------------------------------- helpers


def _require(ctx: ExecContext, *perms: str) -> None:
    if not ctx.requestor.satisfies(list(perms)):
        raise PermissionDenied(permissions=list(perms))


def _state(ctx: ExecContext):
    return ctx.emulator.state


def _parse_dt(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise GraphQLError(f"{value!r} is not a valid decimal") from exc


def _discount_error(field: str | None, message: str, code: str, **extra: Any) -> dict[str, Any]:
    err = {"field": field, "message": message, "code": code, "products": None, "channels": None, "voucherCodes": None}
    err.update(extra)
    return err


def _duplicates(values: list[str]) -> list[str]:
    seen, dups = set(), []
    for v in values:
        if v in seen and v not in dups:
            dups.append(v)
        seen.add(v)
    return dups


def _node_pk(global_id: str, type_name: str) -> str | None:
    try:
        t, pk = from_global_id(global_id)
    except ValueError:
        return None
    return pk if t == type_name else None


# ----------------------------------------------------------------------------------- queries


@root_resolver("Query", "app")
def q_app(ctx: ExecContext, info, id: str | None = None):
    st = _state(ctx)
    req = ctx.requestor
    if req.app is not None:
        if not id or id == req.app.id:
            return ctx.views.app(req.app)
        if not req.app.has_perm("MANAGE_APPS"):
            raise PermissionDenied(permissions=["MANAGE_APPS"])
    if not id:
        return None
    pk = _node_pk(id, "App")
    app = st.apps.get(int(pk)) if pk and pk.isdigit() else None
    return ctx.views.app(app) if app and not app.deleted else None


@root_resolver("Query", "shop")
def q_shop(ctx: ExecContext, info):
    return ctx.views.shop()


@root_resolver("Query", "me")
def q_me(ctx: ExecContext, info):
    user = ctx.requestor.user
    return ctx.views.user(user) if user else None


@root_resolver("Query", "channels")
def q_channels(ctx: ExecContext, info):
    # core: Channel.Meta.ordering = ("slug",)
    return [ctx.views.channel(c) for c in sorted(_state(ctx).channels, key=lambda c: c.slug)]


@root_resolver("Query", "channel")
def q_channel(ctx: ExecContext, info, id: str | None = None, slug: str | None = None):
    st = _state(ctx)
    if id:
        pk = _node_pk(id, "Channel")
        ch = st.channel_by_pk(pk) if pk else None
    else:
        ch = st.channel_by_slug(slug) if slug else None
    return ctx.views.channel(ch) if ch else None


@root_resolver("Query", "order")
def q_order(ctx: ExecContext, info, id: str | None = None, externalReference: str | None = None):
    """core ``resolve_order``: by ID anyone gets the order (its UUID is the secret) and each field
    then answers per the requestor's permissions; by external reference only with MANAGE_ORDERS."""
    st = _state(ctx)
    if not id and externalReference:
        _require(ctx, "MANAGE_ORDERS")
    if id:
        pk = _node_pk(id, "Order")
        if pk is None:
            raise GraphQLError(f"Couldn't resolve id: {id}.")
        try:
            order = st.orders.get(uuid.UUID(pk))
        except ValueError:
            order = None
    else:
        order = next(
            (o for o in st.orders.values() if externalReference and o.external_reference == externalReference), None
        )
    return ctx.views.order(order) if order else None


def _match_customer(order: Order, value: str) -> bool:
    value = value.strip()
    emails = [e.lower() for e in (order.user_email, (order.user or {}).get("email")) if e]
    if "@" in value and " " not in value:
        return value.lower() in emails
    names = [(order.user or {}).get("firstName", ""), (order.user or {}).get("lastName", "")]
    haystack = [s.lower() for s in emails + names if s]
    parts = value.lower().split()
    if len(parts) >= 2:
        full = " ".join(n.lower() for n in names)
        return full in (value.lower(), " ".join(parts[1:] + parts[:1]))
    return any(value.lower() in h for h in haystack)


def _meta_match(md: dict[str, str], filters: list[dict] | dict | None) -> bool:
    if not filters:
        return True
    if isinstance(filters, dict):  # MetadataFilterInput (where)
        key, value = filters.get("key"), filters.get("value")
        if key not in md:
            return False
        if value is None:
            return True
        if "eq" in value and value["eq"] is not None:
            return md[key] == value["eq"]
        if "oneOf" in value and value["oneOf"] is not None:
            return md[key] in value["oneOf"]
        return True
    for f in filters:
        if f["key"] not in md:
            return False
        if f.get("value") is not None and md[f["key"]] != f["value"]:
            return False
    return True


def _filter_orders(ctx: ExecContext, orders: list[Order], flt: dict[str, Any] | None) -> list[Order]:
    if not flt:
        return orders
    out = orders
    for key, value in flt.items():
        if value is None:
            continue
        if key == "customer":
            out = [o for o in out if _match_customer(o, value)]
        elif key == "search":
            out = _search_orders(out, value)
        elif key == "ids":
            ids = set(value)
            out = [o for o in out if o.id in ids]
        elif key == "numbers":
            nums = {str(v) for v in value}
            out = [o for o in out if str(o.number) in nums]
        elif key == "status":
            statuses = set(value)
            out = [o for o in out if o.status in statuses]
        elif key == "chargeStatus":
            out = [o for o in out if o.charge_status in set(value)]
        elif key == "authorizeStatus":
            out = [o for o in out if o.authorize_status in set(value)]
        elif key == "channels":
            pks = {_node_pk(v, "Channel") for v in value}
            slugs = {c.slug for c in _state(ctx).channels if str(c.pk) in pks}
            out = [o for o in out if o.channel_slug in slugs]
        elif key == "checkoutIds":
            out = [o for o in out if o.checkout_id in set(value)]
        elif key == "metadata":
            out = [o for o in out if _meta_match(o.metadata, value)]
        elif key in ("created", "updatedAt"):
            attr = "created" if key == "created" else "updated_at"
            gte, lte = _parse_dt(value.get("gte")), _parse_dt(value.get("lte"))
            out = [
                o for o in out if (gte is None or getattr(o, attr) >= gte) and (lte is None or getattr(o, attr) <= lte)
            ]
        else:
            raise GraphQLError(f"not emulated: OrderFilterInput.{key}")
    return out


def _search_orders(orders: list[Order], value: str) -> list[Order]:
    v = value.strip().lower()
    out = []
    for o in orders:
        hay = [str(o.number), o.id.lower(), str(o.pk), (o.user_email or "").lower(), (o.voucher_code or "").lower()]
        if o.user:
            hay += [str(o.user.get(k, "")).lower() for k in ("email", "firstName", "lastName")]
        if any(v == h or (v and v in h) for h in hay):
            out.append(o)
    return out


def _match_op(value: Any, op: dict[str, Any] | None) -> bool:
    if op is None:
        return True
    if op.get("eq") is not None:
        return value == op["eq"]
    if op.get("oneOf") is not None:
        return value in op["oneOf"]
    if op.get("range") is not None:
        rng = op["range"]
        return (rng.get("gte") is None or value >= rng["gte"]) and (rng.get("lte") is None or value <= rng["lte"])
    return True


def _where_orders(ctx: ExecContext, orders: list[Order], where: dict[str, Any] | None) -> list[Order]:
    if not where:
        return orders

    def ok(o: Order, w: dict[str, Any]) -> bool:
        for key, value in w.items():
            if value is None:
                continue
            if key == "AND":
                if not all(ok(o, x) for x in value):
                    return False
            elif key == "OR":
                if not any(ok(o, x) for x in value):
                    return False
            elif key == "ids":
                if o.id not in value:
                    return False
            elif key == "number":
                if not _match_op(o.number, value):
                    return False
            elif key == "userEmail":
                if not _match_op(o.user_email, value):
                    return False
            elif key == "user":
                if not _match_op((o.user or {}).get("id"), value):
                    return False
            elif key == "chargeStatus":
                if not _match_op(o.charge_status, value):
                    return False
            elif key == "authorizeStatus":
                if not _match_op(o.authorize_status, value):
                    return False
            elif key == "status":
                if not _match_op(o.status, value):
                    return False
            elif key == "channelId":
                ch = _state(ctx).channel_by_slug(o.channel_slug)
                if not _match_op(ch.id if ch else None, value):
                    return False
            elif key == "checkoutId":
                if not _match_op(o.checkout_id, value):
                    return False
            elif key == "voucherCode":
                if not _match_op(o.voucher_code, value):
                    return False
            elif key == "metadata":
                if not _meta_match(o.metadata, value):
                    return False
            else:
                raise GraphQLError(f"not emulated: OrderWhereInput.{key}")
        return True

    return [o for o in orders if ok(o, where)]


_ORDER_SORT = {
    "NUMBER": lambda o: o.number,
    "RANK": lambda o: o.number,
    "CREATION_DATE": lambda o: o.created,
    "CREATED_AT": lambda o: o.created,
    "LAST_MODIFIED_AT": lambda o: o.updated_at,
    "CUSTOMER": lambda o: o.user_email or "",
    "PAYMENT": lambda o: o.charge_status,
    "FULFILLMENT_STATUS": lambda o: o.status,
}


@root_resolver("Query", "orders")
def q_orders(ctx: ExecContext, info, filter=None, where=None, search=None, channel=None, sortBy=None, **page):
    orders = list(_state(ctx).orders.values())
    orders = [o for o in orders if o.status != "DRAFT"]
    if channel:
        orders = [o for o in orders if o.channel_slug == channel]
    orders = _filter_orders(ctx, orders, filter)
    orders = _where_orders(ctx, orders, where)
    if search:
        orders = _search_orders(orders, search)
    field, direction = "NUMBER", "DESC"  # core default: newest first
    if sortBy:
        field, direction = sortBy.get("field", field), sortBy.get("direction", "ASC")
    orders.sort(key=_ORDER_SORT.get(field, _ORDER_SORT["NUMBER"]), reverse=direction == "DESC")
    return connection(orders, info, key=lambda o: o.number, node=ctx.views.order, **page)


@root_resolver("Query", "voucher")
def q_voucher(ctx: ExecContext, info, id: str, channel: str | None = None):
    if not _decodable(id):
        raise GraphQLError(f"Couldn't resolve id: {id}.")
    pk = _node_pk(id, "Voucher")
    if pk is None:
        raise GraphQLError("Must receive a Voucher id.")
    v = _state(ctx).vouchers.get(int(pk)) if pk.isdigit() else None
    return ctx.views.voucher(v, channel) if v else None


def _decodable(gid: str) -> bool:
    try:
        from_global_id(gid)
        return True
    except ValueError:
        return False


def _voucher_status(v: Voucher, channel: str | None) -> str:
    t = now()
    if v.start_date > t:
        return "SCHEDULED"
    if v.end_date is not None and v.end_date < t:
        return "EXPIRED"
    if channel and v.listing_for(channel) is None:
        return "EXPIRED"
    return "ACTIVE"


@root_resolver("Query", "vouchers")
def q_vouchers(ctx: ExecContext, info, filter=None, sortBy=None, query=None, channel=None, **page):
    vouchers = list(_state(ctx).vouchers.values())
    flt = dict(filter or {})
    if query:
        flt.setdefault("search", query)
    for key, value in flt.items():
        if value is None:
            continue
        if key == "search":
            s = value.lower()
            vouchers = [v for v in vouchers if s in (v.name or "").lower() or any(s in c.code.lower() for c in v.codes)]
        elif key == "ids":
            ids = set(value)
            vouchers = [v for v in vouchers if v.id in ids]
        elif key == "discountType":
            kinds = set(value)
            vouchers = [
                v
                for v in vouchers
                if ("SHIPPING" in kinds and v.type == "SHIPPING")
                or (v.type != "SHIPPING" and v.discount_value_type in kinds)
            ]
        elif key == "status":
            vouchers = [v for v in vouchers if _voucher_status(v, channel) in set(value)]
        elif key == "metadata":
            vouchers = [v for v in vouchers if _meta_match(v.metadata, value)]
        elif key == "timesUsed":
            vouchers = [v for v in vouchers if _match_op(sum(c.used for c in v.codes), {"range": value})]
        else:
            raise GraphQLError(f"not emulated: VoucherFilterInput.{key}")
    direction = (sortBy or {}).get("direction", "ASC")
    sort_field = (sortBy or {}).get("field", "CODE")
    if sort_field == "NAME":
        keyf = lambda v: ((v.name or ""), v.pk)  # noqa: E731
    elif sort_field in ("START_DATE",):
        keyf = lambda v: (v.start_date, v.pk)  # noqa: E731
    else:
        keyf = lambda v: ((v.codes[0].code if v.codes else ""), v.pk)  # noqa: E731
    vouchers.sort(key=keyf, reverse=direction == "DESC")
    return connection(vouchers, info, key=lambda v: v.pk, node=lambda v: ctx.views.voucher(v, channel), **page)


# ----------------------------------------------------------------------------------- vouchers


def _clean_codes(st, inp: dict[str, Any], *, creating: bool) -> tuple[list[str], list[dict]]:
    """Returns (codes to add, errors)."""
    codes: list[str] = []
    code = inp.get("code")
    add_codes = inp.get("addCodes")
    if creating and code != "":
        given = [(n, v) for n, v in (("code", code), ("addCodes", add_codes)) if v]
        if len(given) > 1:
            return [], [_discount_error(None, "Argument 'code' cannot be combined with 'addCodes'", "GRAPHQL_ERROR")]
        if not given:
            return [], [
                _discount_error(None, "At least one of arguments is required: 'code', 'addCodes'.", "GRAPHQL_ERROR")
            ]
    existing = st.all_codes()
    if add_codes is not None and "addCodes" in inp:
        stripped = [c.strip() for c in add_codes]
        dups = _duplicates(list(stripped))
        if dups:
            return [], [
                _discount_error("codes", "Duplicated promo codes provided.", "DUPLICATED_INPUT_ITEM", voucherCodes=dups)
            ]
        taken, cleaned = [], []
        for c in stripped:
            if not c:
                c = generate_promo_code()
                while c in existing:
                    c = generate_promo_code()
            elif c in existing:
                taken.append(c)
            cleaned.append(c)
        if taken:
            return [], [_discount_error("codes", "Promo code already exists.", "ALREADY_EXISTS", voucherCodes=taken)]
        codes.extend(cleaned)
    if "code" in inp:
        c = (code or "").strip()
        if not c:
            c = generate_promo_code()
        elif c in existing:
            return [], [_discount_error("code", "Promo code already exists.", "ALREADY_EXISTS")]
        codes.append(c)
    return codes, []


_VOUCHER_FIELDS = {
    "name": "name",
    "type": "type",
    "discountValueType": "discount_value_type",
    "singleUse": "single_use",
    "applyOncePerCustomer": "apply_once_per_customer",
    "applyOncePerOrder": "apply_once_per_order",
    "onlyForStaff": "only_for_staff",
    "usageLimit": "usage_limit",
    "minCheckoutItemsQuantity": "min_checkout_items_quantity",
    "countries": "countries",
}
_UNSUPPORTED_VOUCHER_INPUT = ("products", "variants", "collections", "categories")


def _apply_voucher_input(v: Voucher, inp: dict[str, Any]) -> list[dict]:
    for key in _UNSUPPORTED_VOUCHER_INPUT:
        if inp.get(key):
            raise GraphQLError(f"not emulated: VoucherInput.{key}")
    for key, attr in _VOUCHER_FIELDS.items():
        if key in inp:
            value = inp[key]
            if key in ("singleUse", "applyOncePerCustomer", "applyOncePerOrder", "onlyForStaff") and value is None:
                value = False
            setattr(v, attr, value if key != "countries" else list(value or []))
    start = _parse_dt(inp["startDate"]) if "startDate" in inp and inp["startDate"] else None
    if start is not None:
        v.start_date = start
    if "endDate" in inp:
        v.end_date = _parse_dt(inp["endDate"])
    if v.end_date is not None and v.end_date < v.start_date:
        return [_discount_error("endDate", "End date cannot be before the start date.", "INVALID")]
    return []


def _voucher_payload(ctx, voucher, errors):
    return {
        "voucher": ctx.views.voucher(voucher) if voucher is not None and not errors else None,
        "errors": errors,
        "discountErrors": errors,
    }


@root_resolver("Mutation", "voucherCreate")
def m_voucher_create(ctx: ExecContext, info, input: dict[str, Any]):
    _require(ctx, "MANAGE_DISCOUNTS")
    st = _state(ctx)
    codes, errors = _clean_codes(st, input, creating=True)
    if errors:
        return _voucher_payload(ctx, None, errors)
    voucher = Voucher(pk=st.next_id("voucher"), name=input.get("name"))
    errors = _apply_voucher_input(voucher, input)
    if errors:
        return _voucher_payload(ctx, None, errors)
    voucher.codes = [VoucherCode(uuid.uuid4(), c) for c in codes]
    st.vouchers[voucher.pk] = voucher
    ctx.emulator._record_event(ctx, "VOUCHER_CODES_CREATED", voucher=voucher)
    ctx.emulator._record_event(ctx, "VOUCHER_CREATED", voucher=voucher)
    return _voucher_payload(ctx, voucher, [])


def _get_voucher_or_error(ctx, id: str) -> tuple[Voucher | None, list[dict]]:
    pk = _node_pk(id, "Voucher")
    v = _state(ctx).vouchers.get(int(pk)) if pk and pk.isdigit() else None
    if v is None:
        if not _decodable(id):
            return None, [_discount_error("id", f"Couldn't resolve id: {id}.", "GRAPHQL_ERROR")]
        if pk is None:
            return None, [_discount_error("id", "Must receive a Voucher id.", "GRAPHQL_ERROR")]
        return None, [_discount_error("id", f"Couldn't resolve to a node: {id}", "NOT_FOUND")]
    return v, []


@root_resolver("Mutation", "voucherUpdate")
def m_voucher_update(ctx: ExecContext, info, id: str, input: dict[str, Any]):
    _require(ctx, "MANAGE_DISCOUNTS")
    st = _state(ctx)
    voucher, errors = _get_voucher_or_error(ctx, id)
    if errors:
        return _voucher_payload(ctx, None, errors)
    codes, errors = _clean_codes(st, input, creating=False)
    if errors:
        return _voucher_payload(ctx, None, errors)
    if "singleUse" in input and input["singleUse"] != voucher.single_use:
        used = {o.voucher_code for o in st.orders.values() if o.voucher_code}
        if any(c.code in used or c.used for c in voucher.codes):
            return _voucher_payload(
                ctx,
                None,
                [
                    _discount_error(
                        "singleUse",
                        "Cannot change single use setting when any voucher code has already been used.",
                        "VOUCHER_ALREADY_USED",
                    )
                ],
            )
    if "code" in input and "addCodes" not in input:
        if len(voucher.codes) == 1:
            voucher.codes[0].code = codes[-1]
            codes = []
        elif voucher.codes:
            return _voucher_payload(
                ctx, None, [_discount_error("code", "Cannot update code when multiple codes exists.", "INVALID")]
            )
    candidate = copy.deepcopy(voucher)
    errors = _apply_voucher_input(candidate, input)
    if errors:
        return _voucher_payload(ctx, None, errors)
    _apply_voucher_input(voucher, input)
    new_codes = [VoucherCode(uuid.uuid4(), c) for c in codes]
    voucher.codes.extend(new_codes)
    ctx.emulator._record_event(ctx, "VOUCHER_UPDATED", voucher=voucher)
    if new_codes:
        ctx.emulator._record_event(ctx, "VOUCHER_CODES_CREATED", voucher=voucher)
    return _voucher_payload(ctx, voucher, [])


@root_resolver("Mutation", "voucherDelete")
def m_voucher_delete(ctx: ExecContext, info, id: str):
    _require(ctx, "MANAGE_DISCOUNTS")
    voucher, errors = _get_voucher_or_error(ctx, id)
    if errors:
        return _voucher_payload(ctx, None, errors)
    view = ctx.views.voucher(voucher)
    del _state(ctx).vouchers[voucher.pk]
    ctx.emulator._record_event(ctx, "VOUCHER_DELETED", voucher_view=view)
    return {"voucher": view, "errors": [], "discountErrors": []}


@root_resolver("Mutation", "voucherBulkDelete")
def m_voucher_bulk_delete(ctx: ExecContext, info, ids: list[str]):
    _require(ctx, "MANAGE_DISCOUNTS")
    st = _state(ctx)
    pks = [_node_pk(i, "Voucher") for i in ids]
    if any(pk is None for pk in pks):
        bad = [i for i, pk in zip(ids, pks) if pk is None]
        raise GraphQLError(f"Could not resolve to a node with the global id list of '{bad}'.")
    count = 0
    for pk in pks:
        if pk.isdigit() and int(pk) in st.vouchers:
            del st.vouchers[int(pk)]
            count += 1
    return {"count": count, "errors": [], "discountErrors": []}


@root_resolver("Mutation", "voucherChannelListingUpdate")
def m_voucher_channel_listing_update(ctx: ExecContext, info, id: str, input: dict[str, Any]):
    _require(ctx, "MANAGE_DISCOUNTS")
    st = _state(ctx)
    voucher, errors = _get_voucher_or_error(ctx, id)
    if errors:
        return _voucher_payload(ctx, None, errors)
    add = input.get("addChannels") or []
    remove = input.get("removeChannels") or []
    add_ids = [a["channelId"] for a in add]
    errors = []
    both = [i for i in add_ids if i in remove]
    if both:
        errors.append(
            _discount_error(
                "input",
                "The same object cannot be in both lists for adding and removing items.",
                "DUPLICATED_INPUT_ITEM",
                channels=both,
            )
        )
    for fld, ids in (("addChannels", add_ids), ("removeChannels", remove)):
        dups = _duplicates(ids)
        if dups:
            errors.append(_discount_error(fld, "Duplicated channel ID.", "DUPLICATED_INPUT_ITEM", channels=dups))
    if errors:
        return _voucher_payload(ctx, None, errors)
    channels = []
    missing = []
    for cid in add_ids:
        pk = _node_pk(cid, "Channel")
        ch = st.channel_by_pk(pk) if pk is not None else None
        if ch is None:
            missing.append(cid)
        channels.append(ch)
    if missing:
        return _voucher_payload(
            ctx,
            None,
            [
                _discount_error(
                    "channelId", f"Could not resolve to a node with the global id list of '{missing}'.", "GRAPHQL_ERROR"
                )
            ],
        )
    remove_pks = []
    for cid in remove:
        pk = _node_pk(cid, "Channel")
        if pk is None:
            return _voucher_payload(
                ctx,
                None,
                [
                    _discount_error(
                        "removeChannels",
                        f"Could not resolve to a node with the global id list of '{[cid]}'.",
                        "GRAPHQL_ERROR",
                    )
                ],
            )
        remove_pks.append(pk)
    without_value, bad_percentage, bad_precision, bad_min_precision = [], [], [], []
    for item, ch in zip(add, channels):
        value = _decimal(item.get("discountValue"))
        existing = voucher.listing_for(ch.slug)
        if (value is None and existing is None) or ("discountValue" in item and value is None):
            without_value.append(item["channelId"])
        if value is not None:
            if voucher.discount_value_type == "PERCENTAGE" and value > 100:
                bad_percentage.append(item["channelId"])
            if voucher.discount_value_type == "FIXED" and value.as_tuple().exponent < -2:
                bad_precision.append(item["channelId"])
        min_spent = _decimal(item.get("minAmountSpent"))
        if min_spent is not None and min_spent.as_tuple().exponent < -2:
            bad_min_precision.append(item["channelId"])
    if without_value:
        errors.append(
            _discount_error("discountValue", "Value is required for voucher.", "REQUIRED", channels=without_value)
        )
    if bad_precision:
        errors.append(_discount_error("discountValue", "Invalid amount precision.", "INVALID", channels=bad_precision))
    if bad_percentage:
        errors.append(_discount_error("discountValue", "Invalid percentage value.", "INVALID", channels=bad_percentage))
    if bad_min_precision:
        errors.append(
            _discount_error("minAmountSpent", "Invalid amount precision.", "INVALID", channels=bad_min_precision)
        )
    if errors:
        return _voucher_payload(ctx, None, errors)
    for item, ch in zip(add, channels):
        listing = voucher.listing_for(ch.slug)
        if listing is None:
            listing = VoucherChannelListing(st.next_id("listing"), ch.slug, Decimal("0"), ch.currency)
            voucher.listings.append(listing)
        if "discountValue" in item:
            listing.discount_value = _decimal(item["discountValue"])
        if "minAmountSpent" in item:
            listing.min_spent = _decimal(item["minAmountSpent"])
    voucher.listings = [
        listing for listing in voucher.listings if str(st.channel_by_slug(listing.channel_slug).pk) not in remove_pks
    ]
    ctx.emulator._record_event(ctx, "VOUCHER_UPDATED", voucher=voucher)
    return _voucher_payload(ctx, voucher, [])


@root_resolver("Mutation", "voucherCodeBulkDelete")
def m_voucher_code_bulk_delete(ctx: ExecContext, info, ids: list[str]):
    _require(ctx, "MANAGE_DISCOUNTS")
    st = _state(ctx)
    invalid, wanted = [], set()
    for gid in ids:
        try:
            t, pk = from_global_id(gid)
        except ValueError:
            t, pk = None, None
        if t != "VoucherCode":
            invalid.append(gid)
            continue
        wanted.add(pk)
    if invalid:
        return {
            "count": 0,
            "errors": [
                {"path": "ids", "message": "Invalid VoucherCode ID.", "code": "INVALID", "voucherCodes": invalid}
            ],
        }
    count = 0
    for v in st.vouchers.values():
        before = len(v.codes)
        v.codes = [c for c in v.codes if str(c.pk) not in wanted]
        if len(v.codes) != before:
            count += before - len(v.codes)
            ctx.emulator._record_event(ctx, "VOUCHER_CODES_DELETED", voucher=v)
    return {"count": count, "errors": []}


# ----------------------------------------------------------------------------------- metadata


def _metadata_target(ctx: ExecContext, id: str):
    st = _state(ctx)
    try:
        t, pk = from_global_id(id)
    except ValueError:
        # core (meta/mutations/base.py get_object_id): a checkout may be named by its token
        checkout = st.checkout_by_ref(id)
        if checkout is not None:
            return checkout, "Checkout", []
        return None, None, [{"field": "id", "message": f"Couldn't resolve id: {id}.", "code": "GRAPHQL_ERROR"}]
    obj = None
    if t == "Voucher" and pk.isdigit():
        obj = st.vouchers.get(int(pk))
    elif t == "Order":
        try:
            obj = st.orders.get(uuid.UUID(pk))
        except ValueError:
            obj = None
    elif t == "App" and pk.isdigit():
        obj = st.apps.get(int(pk))
    elif t == "Channel":
        obj = st.channel_by_pk(pk)
    elif t == "Checkout":
        obj = st.checkout_by_ref(id)
    elif t not in ("Voucher", "Order", "App", "Channel", "Checkout"):
        raise GraphQLError(f"not emulated: metadata of {t}")
    if obj is None:
        return None, t, [{"field": "id", "message": f"Couldn't resolve to a node: {id}", "code": "NOT_FOUND"}]
    return obj, t, []


_META_PERMS = {
    "Voucher": ["MANAGE_DISCOUNTS"],
    "Order": ["MANAGE_ORDERS"],
    "Channel": ["MANAGE_CHANNELS"],
    "App": ["MANAGE_APPS"],
    "Checkout": ["MANAGE_CHECKOUTS", "HANDLE_TAXES"],
}
# core meta/permissions.py PUBLIC_META_PERMISSION_MAP: anyone holding a checkout's id may write its
# public metadata (no permission); its private metadata needs MANAGE_CHECKOUTS.
_PUBLIC_META_WITHOUT_PERMISSION = {"Checkout"}


def _item_view(ctx: ExecContext, obj, type_name: str):
    v = ctx.views
    return {"Voucher": v.voucher, "Order": v.order, "App": v.app, "Channel": v.channel, "Checkout": v.checkout}[
        type_name
    ](obj)


def _metadata_mutation(ctx: ExecContext, id: str, items: list[dict] | list[str], *, private: bool, delete: bool):
    obj, t, errors = _metadata_target(ctx, id)
    if errors:
        return {"item": None, "errors": errors, "metadataErrors": errors}
    perms = _META_PERMS[t]
    is_self = t == "App" and ctx.requestor.app is not None and ctx.requestor.app.pk == obj.pk
    open_to_anyone = t in _PUBLIC_META_WITHOUT_PERMISSION and not private
    if not is_self and not open_to_anyone and not ctx.requestor.satisfies(perms):
        raise PermissionDenied(permissions=perms)
    store = obj.private_metadata if private else obj.metadata
    if delete:
        for key in items:
            store.pop(key, None)
    else:
        for item in items:
            if not item["key"].strip():
                errors = [{"field": "input", "message": "Metadata key cannot be empty.", "code": "REQUIRED"}]
                return {"item": None, "errors": errors, "metadataErrors": errors}
        for item in items:
            store[item["key"].strip()] = item["value"]
    if t == "Checkout":
        obj.last_change = now()
    if t == "Order":
        ctx.emulator._record_event(ctx, "ORDER_METADATA_UPDATED", order=obj)
    elif t == "Voucher":
        ctx.emulator._record_event(ctx, "VOUCHER_METADATA_UPDATED", voucher=obj)
    return {"item": _item_view(ctx, obj, t), "errors": [], "metadataErrors": []}


@root_resolver("Mutation", "updateMetadata")
def m_update_metadata(ctx, info, id, input):
    return _metadata_mutation(ctx, id, input, private=False, delete=False)


@root_resolver("Mutation", "updatePrivateMetadata")
def m_update_private_metadata(ctx, info, id, input):
    return _metadata_mutation(ctx, id, input, private=True, delete=False)


@root_resolver("Mutation", "deleteMetadata")
def m_delete_metadata(ctx, info, id, keys):
    return _metadata_mutation(ctx, id, keys, private=False, delete=True)


@root_resolver("Mutation", "deletePrivateMetadata")
def m_delete_private_metadata(ctx, info, id, keys):
    return _metadata_mutation(ctx, id, keys, private=True, delete=True)


# ----------------------------------------------------------------------------------- checkouts
# core graphql/checkout (3.21-3.23 behave alike here): no permission for any of these; a checkout
# that belongs to a customer is not emulated (every emulated checkout is a guest's).


def _checkout_error(field: str | None, message: str, code: str) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code, "variants": None, "lines": None, "addressType": None}


def _checkout_payload(ctx, checkout, errors, **extra):
    return {
        "checkout": ctx.views.checkout(checkout) if checkout is not None and not errors else None,
        "errors": errors,
        "checkoutErrors": errors,
        **extra,
    }


@root_resolver("Query", "checkout")
def q_checkout(ctx: ExecContext, info, id: str | None = None, token: Any = None):
    st = _state(ctx)
    ref = id if id is not None else token
    if ref is None:
        return None
    if id is not None and not _decodable(id):
        raise GraphQLError(f"Couldn't resolve id: {id}.")
    checkout = st.checkout_by_ref(str(ref))
    return ctx.views.checkout(checkout) if checkout is not None else None


@root_resolver("Mutation", "checkoutCreate")
def m_checkout_create(ctx: ExecContext, info, input: dict[str, Any]):
    st = _state(ctx)
    slug = input.get("channel")
    if slug is None:
        active = [c for c in st.channels if c.is_active]
        if len(st.channels) != 1 and len(active) != 1:
            return _checkout_payload(
                ctx,
                None,
                [_checkout_error("channel", "You need to provide channel slug.", "MISSING_CHANNEL_SLUG")],
                created=None,
            )
        channel = st.channels[0] if len(st.channels) == 1 else active[0]
    else:
        channel = st.channel_by_slug(slug)
        if channel is None:
            return _checkout_payload(
                ctx,
                None,
                [_checkout_error("channel", f"Channel with '{slug}' slug does not exist.", "NOT_FOUND")],
                created=None,
            )
        if not channel.is_active:
            return _checkout_payload(
                ctx,
                None,
                [_checkout_error("channel", f"Channel with '{slug}' is inactive.", "CHANNEL_INACTIVE")],
                created=None,
            )
    if input.get("lines"):
        raise GraphQLError("not emulated: CheckoutCreateInput.lines (products are not emulated)")
    checkout = Checkout(
        token=uuid.uuid4(), channel_slug=channel.slug, currency=channel.currency, email=input.get("email")
    )
    for item in input.get("metadata") or []:
        checkout.metadata[item["key"]] = item["value"]
    for item in input.get("privateMetadata") or []:
        checkout.private_metadata[item["key"]] = item["value"]
    st.checkouts[checkout.token] = checkout
    return _checkout_payload(ctx, checkout, [], created=True)


def _voucher_active_in_channel(voucher: Voucher, code: VoucherCode, channel_slug: str) -> bool:
    """``Voucher.objects.active_in_channel`` + an active code (``get_voucher_code_instance``)."""
    moment = now()
    if voucher.listing_for(channel_slug) is None or not code.is_active:
        return False
    if voucher.start_date > moment or (voucher.end_date is not None and voucher.end_date <= moment):
        return False
    return voucher.usage_limit is None or sum(c.used for c in voucher.codes) < voucher.usage_limit


@root_resolver("Mutation", "checkoutAddPromoCode")
def m_checkout_add_promo_code(
    ctx: ExecContext, info, promoCode: str, id: str | None = None, checkoutId: str | None = None, token: Any = None
):
    st = _state(ctx)
    ref = id or checkoutId
    if ref is None and token is None:
        return _checkout_payload(
            ctx,
            None,
            [
                _checkout_error(
                    None, "At least one of arguments is required: 'checkout_id', 'token', 'id'.", "GRAPHQL_ERROR"
                )
            ],
        )
    if ref is not None and not _decodable(ref):
        return _checkout_payload(ctx, None, [_checkout_error("id", f"Couldn't resolve id: {ref}.", "GRAPHQL_ERROR")])
    checkout = st.checkout_by_ref(str(ref if ref is not None else token))
    if checkout is None:
        field = "id" if ref is not None else "token"
        return _checkout_payload(
            ctx,
            None,
            [_checkout_error(field, f"Couldn't resolve to a node: {ref if ref is not None else token}", "NOT_FOUND")],
        )
    found = st.find_code(promoCode)
    if found is None:
        card = st.gift_card_by_code(promoCode)
        if card is not None:
            # core checkout/utils.py add_promo_code_to_checkout → giftcard/utils.py
            # add_gift_card_code_to_checkout (deprecated in 3.23 but allowed by default:
            # channel.checkoutSettings.allowLegacyGiftCardUse, not emulated)
            if not card.usable_on(now().date(), checkout.currency):
                return _checkout_payload(ctx, None, [_checkout_error("promoCode", "Promo code is invalid", "INVALID")])
            if card.pk not in checkout.gift_card_pks:
                checkout.gift_card_pks.append(card.pk)
            checkout.last_change = now()
            return _checkout_payload(ctx, checkout, [])
        if promoCode in st.gift_card_codes:
            raise GraphQLError("not emulated: gift cards made outside the emulator's API")
        return _checkout_payload(ctx, None, [_checkout_error("promoCode", "Promo code is invalid", "INVALID")])
    voucher, code = found
    if not _voucher_active_in_channel(voucher, code, checkout.channel_slug):
        return _checkout_payload(ctx, None, [_checkout_error("promoCode", "Promo code is invalid", "INVALID")])
    listing = voucher.listing_for(checkout.channel_slug)
    if (listing.min_spent is not None and checkout.subtotal < listing.min_spent) or voucher.only_for_staff:
        return _checkout_payload(
            ctx,
            None,
            [_checkout_error("promoCode", "Voucher is not applicable to this checkout.", "VOUCHER_NOT_APPLICABLE")],
        )
    checkout.voucher_code = code.code
    checkout.last_change = now()
    return _checkout_payload(ctx, checkout, [])
