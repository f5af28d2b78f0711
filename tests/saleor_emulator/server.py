"""``SaleorEmulator``: the loopback HTTP server and the test-facing driver API."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

from jose import jwt as jose_jwt
from jose.exceptions import ExpiredSignatureError as JoseExpired
from jose.exceptions import JWTError
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import giftcards, resolvers  # noqa: F401 - registers the root resolvers
from .faults import FaultInjector
from .install import InstallResult
from .install import install as _install
from .schema import (
    DecodeError,
    ExecContext,
    ExpiredSignatureError,
    InvalidSignatureError,
    Requestor,
    execute_request,
    get_schema,
    render_subscription,
)
from .signing import SigningKey, encode_unsigned_jwt, jwks_bytes, jwks_document
from .state import (
    ALL_PERMISSIONS,
    APP_LIFECYCLE_EVENTS,
    EVENT_PERMISSIONS,
    App,
    Checkout,
    Order,
    State,
    Voucher,
    VoucherChannelListing,
    VoucherCode,
    Webhook,
    event_to_typename,
    generate_app_token,
    iso,
    money,
    now,
    to_global_id,
)
from .versions import SaleorVersion
from .views import Views
from .webhooks import DEFAULT_RETRY_SCHEDULE, DEFAULT_TIMEOUT, Delivery, DeliveryAttempt

DEFAULT_USER_PERMISSIONS = list(ALL_PERMISSIONS)
_OPERATION_NAME = re.compile(r"\b(?:query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # keep test output clean
        pass


@dataclass
class RecordedRequest:
    """One ``POST /graphql/`` as received (and what was answered)."""

    query: Any
    variables: Any
    operation_name: str | None
    token: str | None
    auth_header: str | None
    app_id: str | None
    requestor: str
    status: int
    response: Any
    headers: dict[str, str]
    fault: str | None = None
    at: float = field(default_factory=time.time)

    @property
    def data(self) -> Any:
        return self.response.get("data") if isinstance(self.response, dict) else None

    @property
    def errors(self) -> Any:
        return self.response.get("errors") if isinstance(self.response, dict) else None

    @property
    def operation(self) -> str | None:
        """The operation's name: ``operationName`` if sent, else the first named operation in the text."""
        if self.operation_name:
            return self.operation_name
        match = _OPERATION_NAME.search(self.query) if isinstance(self.query, str) else None
        return match.group(1) if match else None


def _extract_token(request: Request) -> tuple[str | None, str | None]:
    """Core ``get_token_from_request``: ``Authorization-Bearer: <t>`` or ``Authorization: Bearer|JWT <t>``."""
    alt = request.headers.get("Authorization-Bearer")
    if alt:
        return alt.strip(), f"Authorization-Bearer: {alt}"
    auth = request.headers.get("Authorization")
    if auth:
        parts = auth.split(maxsplit=1)
        if len(parts) == 2 and parts[0].lower() in ("bearer", "jwt"):
            return parts[1].strip(), f"Authorization: {auth}"
        return None, f"Authorization: {auth}"
    return None, None


class SaleorEmulator:
    """A Saleor stand-in on loopback, playing 3.23.28 unless told ``version="3.21"``/``"3.22"`` (or a
    full release such as ``"3.23.4"``). See the package docstring for what is emulated."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        version: str | None = None,
        seed: int = 0,
        jwks_available: bool = True,
        host_header_without_port: bool = True,
        delivery_timeout=DEFAULT_TIMEOUT,
        retry_schedule: list[float] | None = None,
        auto_deliver: bool = True,
        allowed_graphql_origins: Iterable[str] = ("*",),
    ) -> None:
        self.host = host
        self.version = SaleorVersion.of(version)
        self._requested_port = port
        self.port: int | None = None
        self.state = State()
        self.faults = FaultInjector(seed)
        self.jwks_available = jwks_available
        self.host_header_without_port = host_header_without_port
        self.delivery_timeout = delivery_timeout
        self.retry_schedule = list(retry_schedule if retry_schedule is not None else DEFAULT_RETRY_SCHEDULE)
        self.auto_deliver = auto_deliver
        self.allowed_graphql_origins = tuple(allowed_graphql_origins)
        self.key = SigningKey()
        self.previous_keys: list[SigningKey] = []
        self.requests: list[RecordedRequest] = []
        self.validation_failures = 0
        self.jwks_requests = 0
        self.server_errors: list[str] = []
        self.deliveries: list[Delivery] = []
        self.attempts: list[tuple[Delivery, DeliveryAttempt]] = []
        self.install_log: list[dict[str, Any]] = []
        self.manifest_fetches: list[Any] = []  # the manifest GETs as sent (requests.PreparedRequest)
        self._log_lock = threading.Lock()
        self._server = None
        self._thread: threading.Thread | None = None
        self._bg_threads: list[threading.Thread] = []
        self.schema = get_schema(self.version.schema_version)  # fails fast if the SDL is missing

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SaleorEmulator:
        if self._server is not None:
            return self
        self._server = make_server(
            self.host, self._requested_port, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="saleor-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        for t in list(self._bg_threads):
            t.join(timeout=30)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SaleorEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_for_background(self, timeout: float = 30) -> None:
        """Wait for deliveries fired in background threads (events from GraphQL mutations)."""
        for t in list(self._bg_threads):
            t.join(timeout=timeout)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/graphql/"

    @property
    def domain(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"http://{self.host}:{self.port}/.well-known/jwks.json"

    def _views(self) -> Views:
        return Views(self.state, self.api_url, self.domain, self.version)

    # ------------------------------------------------------------------ keys
    @property
    def jwks(self) -> dict[str, Any]:
        return jwks_document([self.key])

    def rotate_key(self) -> SigningKey:
        """New signing key; the JWKS serves only the new one (old signatures stop verifying)."""
        self.previous_keys.append(self.key)
        self.key = SigningKey()
        return self.key

    # ------------------------------------------------------------------ HTTP
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        path = request.path
        if path == "/.well-known/jwks.json":
            response = self._handle_jwks(request)
        elif path == "/graphql/":
            response = self._with_cors(request, self._handle_graphql)
        elif path == "/graphql":
            response = Response(status=301, headers={"Location": "/graphql/"})
        else:
            response = Response("Not Found", status=404, content_type="text/html")
        return response(environ, start_response)

    def _with_cors(self, request: Request, handler) -> Response:
        """core ``saleor/asgi/cors_handler.py``: an Origin matching ALLOWED_GRAPHQL_ORIGINS (fnmatch,
        default ``*``) is echoed with credentials allowed; preflights answer 200, or 400 when the
        origin is not allowed."""
        origin = request.headers.get("Origin", "")
        allowed = bool(origin) and any(fnmatchcase(origin, pattern) for pattern in self.allowed_graphql_origins)
        if request.method == "OPTIONS":
            response = Response(b"", status=200 if allowed else 400)
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Access-Control-Allow-Headers"] = (
                "Origin, Content-Type, Accept, Authorization, Source-Service-Name, Authorization-Bearer"
            )
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Max-Age"] = "600"
            response.headers["Vary"] = "Origin"
        else:
            response = handler(request)
            response.headers["Access-Control-Allow-Credentials"] = "true"
            if allowed:
                response.headers["Vary"] = "Origin"
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
        return response

    def _handle_jwks(self, request: Request) -> Response:
        with self._log_lock:
            self.jwks_requests += 1
        if not self.jwks_available:
            return Response("<h1>Server Error (500)</h1>", status=500, content_type="text/html")
        return Response(jwks_bytes([self.key]), status=200, content_type="application/json")

    def _requestor_for(self, token: str | None) -> Requestor:
        if not token:
            return Requestor()
        if token.count(".") == 2:
            return self._requestor_from_jwt(token)
        with self.state.lock:
            app = self.state.app_by_token(token)
        if app is None or not app.is_active:
            return Requestor()
        return Requestor(app=app, permissions=set(app.permissions))

    def _requestor_from_jwt(self, token: str) -> Requestor:
        try:
            claims = jose_jwt.decode(
                token,
                self.key.public_pem.decode(),
                algorithms=["RS256"],
                options={"verify_aud": False},
            )
        except JoseExpired:
            return Requestor(auth_error=ExpiredSignatureError("Signature has expired"))
        except JWTError as exc:
            if "signature" in str(exc).lower():
                return Requestor(auth_error=InvalidSignatureError("Signature verification failed"))
            return Requestor(auth_error=DecodeError("Invalid token"))
        if claims.get("owner") != "saleor" or claims.get("type") not in ("access", "thirdparty"):
            return Requestor(auth_error=DecodeError("Invalid token type"))
        perms = claims.get("permissions") if claims.get("type") == "thirdparty" else claims.get("user_permissions")
        user = {
            "id": claims.get("user_id"),
            "email": claims.get("email"),
            "is_staff": claims.get("is_staff", False),
            "isStaff": claims.get("is_staff", False),
        }
        return Requestor(user=user, permissions=set(perms or []))

    def _handle_graphql(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status=405, headers={"Allow": "OPTIONS, POST"})
        decision = self.faults.decide()
        if decision.sleep:
            time.sleep(decision.sleep)
        token, auth_header = _extract_token(request)
        headers = dict(request.headers)
        if decision.fail_status is not None:
            self._record(
                RecordedRequest(
                    None,
                    None,
                    None,
                    token,
                    auth_header,
                    None,
                    "unknown",
                    decision.fail_status,
                    None,
                    headers,
                    fault=f"fail:{decision.fail_status}",
                )
            )
            return Response(
                "<h1>Server Error (500)</h1>" if decision.fail_status >= 500 else "Error",
                status=decision.fail_status,
                content_type="text/html",
            )
        raw = request.get_data()
        content_type = (request.mimetype or "").lower()
        try:
            if content_type == "application/json":
                payload = json.loads(raw.decode("utf-8"))
            elif content_type == "application/graphql":
                payload = {"query": raw.decode("utf-8")}
            else:
                payload = {}
        except (ValueError, UnicodeDecodeError):
            body = {"errors": [{"message": "Unable to parse query.", "extensions": {"exception": {"code": "str"}}}]}
            self._record(
                RecordedRequest(
                    raw.decode("utf-8", "replace"), None, None, token, auth_header, None, "unknown", 400, body, headers
                )
            )
            return self._json_response(body, 400)
        requestor = self._requestor_for(token)
        entries = payload if isinstance(payload, list) else [payload]
        results, statuses, pending = [], [], []
        for entry in entries:
            entry = entry if isinstance(entry, dict) else {}
            ctx = ExecContext(emulator=self, views=self._views(), requestor=requestor)
            with self.state.lock:
                outcome = execute_request(
                    ctx, entry.get("query"), entry.get("variables"), entry.get("operationName"), self.server_errors
                )
            if outcome.validation_failed:
                with self._log_lock:
                    self.validation_failures += 1
            pending.extend(ctx.pending_events)
            results.append(outcome.body)
            statuses.append(outcome.status)
            self._record(
                RecordedRequest(
                    entry.get("query"),
                    entry.get("variables"),
                    entry.get("operationName"),
                    token,
                    auth_header,
                    requestor.app.id if requestor.app else None,
                    requestor.kind,
                    outcome.status,
                    outcome.body,
                    headers,
                )
            )
        body = results if isinstance(payload, list) else results[0]
        if pending and self.auto_deliver:
            self._dispatch_background(pending)
        return self._json_response(body, max(statuses) if statuses else 200)

    @staticmethod
    def _json_response(body: Any, status: int) -> Response:
        return Response(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")

    def _record(self, rec: RecordedRequest) -> None:
        with self._log_lock:
            self.requests.append(rec)

    def execute(
        self, query: str, variables: dict | None = None, *, token: str | None = None, app: App | None = None
    ) -> dict[str, Any]:
        """Run a GraphQL document in-process (no HTTP, not recorded); returns the response body."""
        requestor = self._requestor_for(token if token is not None else (app.token if app else None))
        ctx = ExecContext(emulator=self, views=self._views(), requestor=requestor)
        with self.state.lock:
            return execute_request(ctx, query, variables, None, self.server_errors).body

    # ------------------------------------------------------------------ apps
    def create_app(
        self,
        identifier: str = "saleor-app",
        permissions: Iterable[str] = ("MANAGE_ORDERS", "MANAGE_DISCOUNTS"),
        is_active: bool = True,
        *,
        name: str | None = None,
        webhooks: list[dict[str, Any]] | None = None,
    ) -> App:
        """Create an app directly (no manifest, no token POST). ``webhooks``: manifest-style dicts."""
        perms = list(permissions)
        unknown = [p for p in perms if p not in ALL_PERMISSIONS]
        if unknown:
            raise ValueError(f"unknown permissions {unknown}")
        with self.state.lock:
            app = App(
                pk=self.state.next_id("app"),
                identifier=identifier,
                name=name or identifier,
                permissions=perms,
                token=generate_app_token(),
                is_active=is_active,
            )
            for wh in webhooks or []:
                app.webhooks.append(
                    Webhook(
                        pk=self.state.next_id("webhook"),
                        app_pk=app.pk,
                        name=wh.get("name", "webhook"),
                        target_url=wh["targetUrl"],
                        query=wh["query"],
                        async_events=list(wh.get("asyncEvents") or []),
                        is_active=wh.get("isActive", True),
                        custom_headers=dict(wh.get("customHeaders") or {}),
                    )
                )
            self.state.apps[app.pk] = app
        return app

    def install(
        self,
        manifest_url: str,
        *,
        permissions: list[str] | None = None,
        activate: bool = True,
        app_name: str | None = None,
    ) -> InstallResult:
        """Install from a manifest like Saleor's ``install_app`` task (see ``install.py``)."""
        return _install(self, manifest_url, permissions=permissions, activate=activate, app_name=app_name)

    def set_shop_name(self, name: str) -> None:
        """What the merchant's ``shopDomainUpdate(input: {name})`` does: ``shop.name`` answers it from now on."""
        with self.state.lock:
            self.state.shop_name = name

    def app_by_identifier(self, identifier: str) -> App | None:
        with self.state.lock:
            return next((a for a in self.state.apps.values() if a.identifier == identifier and not a.deleted), None)

    def set_app_active(self, app: App, active: bool) -> None:
        """``appActivate``/``appDeactivate``: an inactive app's token is refused (anonymous)."""
        with self.state.lock:
            app.is_active = active

    def revoke_token(self, app: App) -> str:
        """Invalidate the app's token (``appTokenDelete``); returns a new token for the app."""
        with self.state.lock:
            app.revoked_tokens.append(app.token)
            app.token = generate_app_token()
            return app.token

    def delete_app(self, app: App, *, deliver: bool = True, retry: bool = False) -> list[Delivery]:
        """``appDelete``: revoke the token, then deliver APP_DELETED: to the app's own webhook from
        3.23.5, before that only to the other apps holding MANAGE_APPS."""
        with self.state.lock:
            app.deleted = True
            app.revoked_tokens.append(app.token)
            self.state.apps.pop(app.pk, None)
        return self._emit_app_event("APP_DELETED", app, deliver=deliver, retry=retry)

    # ------------------------------------------------------------------ vouchers (direct)
    def create_voucher(
        self,
        codes: Iterable[str],
        *,
        name: str | None = None,
        type: str = "ENTIRE_ORDER",
        discount_value_type: str = "PERCENTAGE",
        single_use: bool = False,
        usage_limit: int | None = None,
        apply_once_per_customer: bool = False,
        channel_values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Seed a voucher without GraphQL (e.g. a code "someone else" already owns)."""
        with self.state.lock:
            v = Voucher(
                pk=self.state.next_id("voucher"),
                name=name,
                type=type,
                discount_value_type=discount_value_type,
                single_use=single_use,
                usage_limit=usage_limit,
                apply_once_per_customer=apply_once_per_customer,
            )
            v.codes = [VoucherCode(uuid.uuid4(), c) for c in codes]
            for slug, value in (channel_values or {}).items():
                ch = self.state.channel_by_slug(slug)
                v.listings.append(
                    VoucherChannelListing(self.state.next_id("listing"), slug, Decimal(str(value)), ch.currency)
                )
            self.state.vouchers[v.pk] = v
            return self._views().voucher(v)

    def voucher_codes(self) -> dict[str, dict[str, Any]]:
        """All codes -> {"voucher_id", "used", "is_active"} (for assertions)."""
        with self.state.lock:
            return {
                c.code: {"voucher_id": v.id, "used": c.used, "is_active": c.is_active}
                for v in self.state.vouchers.values()
                for c in v.codes
            }

    def add_gift_card_code(self, code: str) -> None:
        """Codes are unique across vouchers *and* gift cards in Saleor."""
        with self.state.lock:
            self.state.gift_card_codes.add(code)

    # ------------------------------------------------------------------ gift cards (direct)
    def gift_cards(self) -> dict[str, dict[str, Any]]:
        """All gift cards made through the API, by code, as a staff user with MANAGE_GIFT_CARD reads
        them (for assertions): GiftCard fields plus ``tags`` as names and ``events`` as types."""
        with self.state.lock:
            views = self._views()
            out = {}
            for card in self.state.gift_cards.values():
                view = views.gift_card(card)
                out[card.code] = {
                    "id": card.id,
                    "is_active": card.is_active,
                    "currency": card.currency,
                    "initial_balance": card.initial_balance,
                    "current_balance": card.current_balance,
                    "expiry_date": card.expiry_date,
                    "tags": list(card.tags),
                    "metadata": dict(card.metadata),
                    "events": [e.type for e in card.events],
                    "notes": [e.message for e in card.events if e.type == "note_added"],
                    "created_by_app": card.created_by_app_pk,
                    "used_by_email": card.used_by_email,
                    "display_code": view["displayCode"],
                }
            return out

    # ------------------------------------------------------------------ orders
    def create_order(
        self,
        email: str | None,
        *,
        user: dict[str, Any] | None = None,
        channel: str = "default-channel",
        total: Any = None,
        subtotal: Any = None,
        voucher_code: str | None = None,
        metadata: dict[str, str] | None = None,
        private_metadata: dict[str, str] | None = None,
        first_name: str = "Fiona",
        last_name: str = "Friend",
        shipping_address: dict[str, Any] | None = None,
        language: str = "EN",
        origin: str = "CHECKOUT",
        paid: bool = False,
        status: str = "UNFULFILLED",
        created: datetime | None = None,
        external_reference: str | None = None,
        lines: list[dict[str, Any]] | None = None,
        discount: Any = None,
        shipping: Any = None,
        tax_rate: Any = None,
        gift_cards: list[str] | None = None,
    ) -> dict[str, Any]:
        """Create an order (no events: see ``checkout_complete``). Returns the order in Saleor's shape.

        ``total`` is what the order costs before gift cards; without it, ``subtotal + shipping`` minus
        what a SHIPPING ``voucher_code`` takes off the shipping (``shipping`` is the undiscounted
        shipping price; such a voucher is listed in ``order.discounts``). ``tax_rate`` (e.g. "0.23"):
        prices are gross, ``subtotal.net`` and ``shippingPrice.net`` are gross / (1 + rate).
        ``gift_cards``: codes the customer added at checkout; each must be usable in the channel
        (else ``GiftCardNotApplicable``, nothing changes) and pays what it can, as Saleor's
        ``add_gift_cards_to_order`` does: the order's ``total`` is what is left to pay.

        A ``voucher_code`` known to the emulator consumes usage like core ``increase_voucher_usage``:
        single-use codes become ``isActive: false`` (``used`` stays 0, as observed); with a voucher
        ``usageLimit`` the code's ``used`` is incremented.

        ``lines``: ``[{"productName", "variantName", "productSku", "quantity", "unitPrice", "isGift"}]``
        (default: one line worth the subtotal). ``discount``: amount of the voucher discount, listed
        in ``order.discounts`` as a VOUCHER discount (``subtotal``/``total`` are taken as given).
        """
        with self.state.lock:
            ch = self.state.channel_by_slug(channel)
            if ch is None:
                raise ValueError(f"unknown channel {channel!r}")
            shipping_d = money(shipping) if shipping is not None else Decimal("0.00")
            shipping_discount = self._shipping_discount(voucher_code, channel, shipping_d)
            if total is None:
                sub_d = money(subtotal if subtotal is not None else "25.00")
                total_d = sub_d + shipping_d - shipping_discount
            else:
                total_d = money(total)
                sub_d = money(subtotal) if subtotal is not None else total_d
            cards = [giftcards.applicable_gift_card(self.state, code, ch.currency) for code in gift_cards or []]
            address = (
                shipping_address
                if shipping_address is not None
                else {
                    "firstName": first_name,
                    "lastName": last_name,
                    "streetAddress1": "1600 Amphitheatre Pkwy",
                    "city": "Mountain View",
                    "postalCode": "94043",
                    "country": "US",
                }
            )
            when = created or now()
            order = Order(
                pk=uuid.uuid4(),
                number=self.state.next_id("order"),
                channel_slug=channel,
                currency=ch.currency,
                user_email=email if email is not None else (user or {}).get("email"),
                total=total_d,
                subtotal=sub_d,
                user=user,
                status=status,
                origin=origin,
                checkout_pk=uuid.uuid4() if origin == "CHECKOUT" else None,
                language=language,
                shipping_address=address,
                created=when,
                updated_at=when,
                metadata=dict(metadata or {}),
                private_metadata=dict(private_metadata or {}),
                external_reference=external_reference,
                shipping=shipping_d,
                shipping_discount=shipping_discount,
                tax_rate=Decimal(str(tax_rate)) if tax_rate is not None else Decimal("0"),
            )
            if shipping_discount:
                found = self.state.find_code(voucher_code)
                order.discounts.append(
                    {
                        "id": to_global_id("OrderDiscount", uuid.uuid4()),
                        "type": "VOUCHER",
                        "name": found[0].name,
                        "valueType": found[0].discount_value_type,
                        "value": str(found[0].listing_for(channel).discount_value),
                        "amount": str(shipping_discount),
                        "reason": None,
                    }
                )
            if cards:
                order.total = total_d = giftcards.pay_with_gift_cards(self.state, order, cards, total_d)
            raw_lines = (
                lines
                if lines is not None
                else [
                    {
                        "productName": "Emulated product",
                        "variantName": "Default",
                        "productSku": "EMU-1",
                        "quantity": 1,
                        "unitPrice": str(sub_d),
                    }
                ]
            )
            for line in raw_lines:
                line = dict(line)
                line.setdefault("id", to_global_id("OrderLine", uuid.uuid4()))
                order.lines.append(line)
            if discount is not None:
                voucher_name = None
                found = self.state.find_code(voucher_code) if voucher_code else None
                if found:
                    voucher_name = found[0].name
                order.discounts.append(
                    {
                        "id": to_global_id("OrderDiscount", uuid.uuid4()),
                        "type": "VOUCHER",
                        "name": voucher_name,
                        "valueType": "FIXED",
                        "value": str(money(discount)),
                        "amount": str(money(discount)),
                        "reason": None,
                    }
                )
            if paid:
                order.charged = total_d
            if voucher_code:
                order.voucher_code = voucher_code
                found = self.state.find_code(voucher_code)
                if found:
                    voucher, code = found
                    order.voucher_pk = voucher.pk
                    if voucher.single_use:
                        code.is_active = False
                    if voucher.usage_limit is not None:
                        code.used += 1
            self.state.orders[order.pk] = order
            return self._order_view(order)

    # ------------------------------------------------------------------ checkouts
    def create_checkout(
        self,
        *,
        channel: str = "default-channel",
        email: str | None = None,
        subtotal: Any = "40.00",
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A guest checkout as a storefront would have made it (its lines stand in as ``subtotal``)."""
        with self.state.lock:
            ch = self.state.channel_by_slug(channel)
            if ch is None:
                raise ValueError(f"unknown channel {channel!r}")
            checkout = Checkout(
                token=uuid.uuid4(),
                channel_slug=channel,
                currency=ch.currency,
                email=email,
                subtotal=money(subtotal),
                metadata=dict(metadata or {}),
            )
            self.state.checkouts[checkout.token] = checkout
            return self._views().checkout(checkout)

    def get_checkout(self, ref: Any) -> dict[str, Any]:
        with self.state.lock:
            checkout = self.state.checkout_by_ref(ref["id"] if isinstance(ref, dict) else ref)
            if checkout is None:
                raise KeyError(f"no checkout {ref}")
            return self._views().checkout(checkout)

    def complete_checkout(
        self, ref: Any, *, email: str | None = None, first_name: str = "Fiona", paid: bool = True, deliver: bool = True
    ) -> dict[str, Any]:
        """``checkoutComplete``: an order with the checkout's channel, e-mail, voucher code and a copy
        of its metadata (core ``complete_checkout.py``), then the events Saleor sends. The checkout
        is gone afterwards, as in Saleor."""
        with self.state.lock:
            checkout = self.state.checkout_by_ref(ref["id"] if isinstance(ref, dict) else ref)
            if checkout is None:
                raise ValueError(f"checkout {ref} does not exist (or was completed)")
            view = self._views()
            discount = view.checkout_discount(checkout)
            order = self.create_order(
                email or checkout.email,
                channel=checkout.channel_slug,
                total=checkout.subtotal - discount,
                subtotal=checkout.subtotal,
                voucher_code=checkout.voucher_code,
                metadata=checkout.metadata,
                private_metadata=checkout.private_metadata,
                first_name=first_name,
                paid=paid,
                discount=discount if checkout.voucher_code else None,
                gift_cards=[self.state.gift_cards[pk].code for pk in checkout.gift_card_pks],
            )
            record = self.state.order_by_ref(order)
            record.checkout_pk = checkout.token
            del self.state.checkouts[checkout.token]
        if deliver:
            self.checkout_complete(record)
        return self.get_order(record)

    def _shipping_discount(self, voucher_code: str | None, channel: str, shipping: Decimal) -> Decimal:
        """What a SHIPPING voucher takes off the shipping price (core ``get_discount_amount_for``)."""
        found = self.state.find_code(voucher_code) if voucher_code else None
        if not found or found[0].type != "SHIPPING" or not found[1].is_active:
            return Decimal("0.00")
        listing = found[0].listing_for(channel)
        if listing is None:
            return Decimal("0.00")
        if found[0].discount_value_type == "PERCENTAGE":
            return money(shipping * listing.discount_value / 100)
        return min(shipping, money(listing.discount_value))

    def _order_view(self, order: Order) -> dict[str, Any]:
        return self._views().order(order)

    def get_order(self, ref: Any) -> dict[str, Any]:
        """Current state of an order (dict in Saleor's shape); ``ref``: dict, global id or number."""
        with self.state.lock:
            return self._order_view(self.state.order_by_ref(ref))

    def _touch(self, ref: Any) -> Order:
        order = self.state.order_by_ref(ref)
        order.updated_at = now()
        return order

    def checkout_complete(
        self, order: Any, *, deliver: bool = True, event_order: list[str] | None = None, retry: bool = False
    ) -> list[Delivery]:
        """ORDER_CREATED, and when already paid ORDER_PAID, ORDER_FULLY_PAID, ORDER_UPDATED."""
        with self.state.lock:
            o = self.state.order_by_ref(order)
            events = ["ORDER_CREATED"]
            if o.charge_status in ("FULL", "OVERCHARGED") and o.charged > 0:
                events += ["ORDER_PAID", "ORDER_FULLY_PAID", "ORDER_UPDATED"]
        return self._emit(events, order=o, deliver=deliver, event_order=event_order, retry=retry)

    def pay(
        self,
        order: Any,
        amount: Any = None,
        *,
        deliver: bool = True,
        event_order: list[str] | None = None,
        retry: bool = False,
    ) -> list[Delivery]:
        """A transaction charge: ORDER_PAID (+ ORDER_FULLY_PAID when fully charged) + ORDER_UPDATED."""
        with self.state.lock:
            o = self._touch(order)
            o.charged = o.total if amount is None else o.charged + money(amount)
            events = ["ORDER_PAID"]
            if o.charge_status in ("FULL", "OVERCHARGED"):
                events.append("ORDER_FULLY_PAID")
            events.append("ORDER_UPDATED")
        return self._emit(events, order=o, deliver=deliver, event_order=event_order, retry=retry)

    def mark_as_paid(
        self, order: Any, *, deliver: bool = True, event_order: list[str] | None = None, retry: bool = False
    ) -> list[Delivery]:
        """``orderMarkAsPaid``: ORDER_FULLY_PAID + ORDER_UPDATED, **no** ORDER_PAID."""
        with self.state.lock:
            o = self._touch(order)
            o.charged = o.total
        return self._emit(
            ["ORDER_FULLY_PAID", "ORDER_UPDATED"], order=o, deliver=deliver, event_order=event_order, retry=retry
        )

    def refund(
        self,
        order: Any,
        amount: Any = None,
        *,
        deliver: bool = True,
        event_order: list[str] | None = None,
        retry: bool = False,
    ) -> list[Delivery]:
        """REFUND_SUCCESS: ORDER_REFUNDED, ORDER_UPDATED (+ ORDER_FULLY_REFUNDED when refunded >= total)."""
        with self.state.lock:
            o = self._touch(order)
            amt = o.charged if amount is None else money(amount)
            o.refunded += amt
            o.charged = max(Decimal("0.00"), o.charged - amt)
            events = ["ORDER_REFUNDED", "ORDER_UPDATED"]
            if o.refunded >= o.total:
                events.append("ORDER_FULLY_REFUNDED")
        return self._emit(events, order=o, deliver=deliver, event_order=event_order, retry=retry)

    def cancel(
        self, order: Any, *, deliver: bool = True, event_order: list[str] | None = None, retry: bool = False
    ) -> list[Delivery]:
        """``orderCancel``: status CANCELED, payment untouched; ORDER_CANCELLED + ORDER_UPDATED."""
        with self.state.lock:
            o = self._touch(order)
            o.status = "CANCELED"
        return self._emit(
            ["ORDER_CANCELLED", "ORDER_UPDATED"], order=o, deliver=deliver, event_order=event_order, retry=retry
        )

    def fulfill(
        self, order: Any, *, deliver: bool = True, event_order: list[str] | None = None, retry: bool = False
    ) -> list[Delivery]:
        """Everything fulfilled: status FULFILLED; ORDER_FULFILLED + ORDER_UPDATED."""
        with self.state.lock:
            o = self._touch(order)
            o.status = "FULFILLED"
        return self._emit(
            ["ORDER_FULFILLED", "ORDER_UPDATED"], order=o, deliver=deliver, event_order=event_order, retry=retry
        )

    def update_order(self, order: Any, **changes: Any) -> dict[str, Any]:
        """Change order fields directly (no events), e.g. ``status=``, ``metadata=``, ``total=``."""
        with self.state.lock:
            o = self._touch(order)
            for key, value in changes.items():
                if key in ("total", "subtotal", "charged", "refunded", "authorized"):
                    value = money(value)
                if not hasattr(o, key):
                    raise AttributeError(key)
                setattr(o, key, value)
            return self._order_view(o)

    def emit(self, events: list[str], order: Any, **kwargs) -> list[Delivery]:
        """Deliver arbitrary order events for the order's current state."""
        with self.state.lock:
            o = self.state.order_by_ref(order)
        return self._emit(list(events), order=o, **kwargs)

    # ------------------------------------------------------------------ events & deliveries
    def _targets(self, event: str, subject_app: App | None = None) -> list[tuple[App, Webhook]]:
        perm = EVENT_PERMISSIONS.get(event)
        out = []
        with self.state.lock:
            apps = list(self.state.apps.values())
            if subject_app is not None and subject_app not in apps:
                apps.append(subject_app)
            for app in apps:
                # From 3.23.5 a lifecycle event goes to the app it is about, whatever its permissions;
                # before, it goes like any other event to the live apps holding MANAGE_APPS.
                own_lifecycle = (
                    event in APP_LIFECYCLE_EVENTS
                    and subject_app is not None
                    and app.pk == subject_app.pk
                    and self.version.lifecycle_events_reach_the_app_itself
                )
                if not own_lifecycle:
                    if app.deleted or not app.is_active:
                        continue
                    if perm and not app.has_perm(perm):
                        continue
                for wh in app.webhooks_for(event):
                    if wh.is_active:
                        out.append((app, wh))
        return out

    def _event_root(
        self, event: str, app: App, views: Views, issued_at: datetime, objs: dict[str, Any]
    ) -> dict[str, Any]:
        root: dict[str, Any] = {
            "__typename": event_to_typename(event),
            "issuedAt": iso(issued_at),
            "version": self.version.release,
            "issuingPrincipal": None,
            "recipient": views.app(app),
        }
        if "order" in objs:
            order = objs["order"]
            root["order"] = lambda info: views.order(order)
        if "voucher" in objs:
            voucher = objs["voucher"]
            root["voucher"] = lambda info, channel=None: views.voucher(voucher, channel)
            root["voucherCodes"] = lambda info: [views.voucher_code(c) for c in voucher.codes]
        if "voucher_view" in objs:
            root["voucher"] = objs["voucher_view"]
        if "app" in objs:
            subject = objs["app"]
            root["app"] = lambda info: views.app(subject)
        return root

    def _make_delivery(self, event: str, app: App, webhook: Webhook, objs: dict[str, Any]) -> Delivery:
        issued_at = now()

        def render() -> bytes | None:
            views = self._views()
            ctx = ExecContext(
                emulator=self, views=views, requestor=Requestor(app=app, permissions=set(app.permissions))
            )
            with self.state.lock:
                payload = render_subscription(ctx, webhook.query, self._event_root(event, app, views, issued_at, objs))
            return json.dumps(payload).encode("utf-8") if payload is not None else None

        delivery = Delivery(self, app, webhook, event, render, iso(issued_at))
        with self._log_lock:
            self.deliveries.append(delivery)
        return delivery

    def prepare_deliveries(self, events: list[str], **objs: Any) -> list[Delivery]:
        subject_app = objs.get("app")
        out = []
        for event in events:
            for app, wh in self._targets(event, subject_app):
                out.append(self._make_delivery(event, app, wh, objs))
        return out

    def _emit(
        self,
        events: list[str],
        *,
        deliver: bool = True,
        event_order: list[str] | None = None,
        retry: bool = False,
        **objs: Any,
    ) -> list[Delivery]:
        if event_order is not None:
            events = list(event_order)
        deliveries = self.prepare_deliveries(events, **objs)
        if deliver:
            for d in deliveries:
                d.send(retry=retry)
        return deliveries

    def _emit_app_event(self, event: str, app: App, *, deliver: bool = True, retry: bool = False) -> list[Delivery]:
        return self._emit([event], app=app, deliver=deliver, retry=retry)

    def _record_event(self, ctx: ExecContext, event: str, **objs: Any) -> None:
        ctx.pending_events.append((event, objs))

    def _dispatch_background(self, pending: list[tuple[str, dict[str, Any]]]) -> None:
        deliveries = []
        for event, objs in pending:
            deliveries.extend(self.prepare_deliveries([event], **objs))
        if not deliveries:
            return

        def run():
            for d in deliveries:
                d.send()

        t = threading.Thread(target=run, name="saleor-emulator-events", daemon=True)
        self._bg_threads.append(t)
        t.start()

    def _log_attempt(self, delivery: Delivery, attempt: DeliveryAttempt) -> None:
        with self._log_lock:
            self.attempts.append((delivery, attempt))

    def deliver_event(
        self, app: App, event_name: str, order: Any = None, *, concurrently: int = 1, retry: bool = False
    ) -> list[Delivery]:
        """Send one event for ``order`` to ``app``'s webhook ``concurrently`` times in parallel threads
        (identical bytes and headers: a duplicate delivery race)."""
        objs: dict[str, Any] = {}
        if order is not None:
            with self.state.lock:
                objs["order"] = self.state.order_by_ref(order)
        if event_name in APP_LIFECYCLE_EVENTS:
            objs["app"] = app
        targets = [
            (a, w)
            for a, w in self._targets(event_name, app if event_name in APP_LIFECYCLE_EVENTS else None)
            if a.pk == app.pk
        ]
        if not targets:
            raise ValueError(f"app {app.identifier!r} has no active webhook for {event_name}")
        first = self._make_delivery(event_name, app, targets[0][1], objs)
        first.body  # noqa: B018 - render once, share the bytes
        copies = [first] + [first.clone() for _ in range(concurrently - 1)]
        with self._log_lock:
            self.deliveries.extend(copies[1:])
        barrier = threading.Barrier(len(copies))

        def run(d: Delivery):
            barrier.wait()
            d.send(retry=retry)

        threads = [threading.Thread(target=run, args=(d,)) for d in copies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return copies

    # ------------------------------------------------------------------ Dashboard JWT
    def mint_dashboard_token(
        self,
        app: App,
        *,
        user_permissions: list[str] | None = None,
        permissions: list[str] | None = None,
        email: str = "admin@example.com",
        user_id: str = "VXNlcjoyMQ==",
        is_staff: bool = True,
        ttl: int = 300,
        iat: int | None = None,
        kid: str | None = None,
        alg: str = "RS256",
        key: Any = None,
        extra_claims: dict[str, Any] | None = None,
        token_key: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> str:
        """``app.accessToken`` as the Dashboard gets it (claims of core ``jwt.py``, header alg/kid/typ).

        Forgeries for security tests: ``key=`` another ``SigningKey``/PEM (kid still the served one
        unless ``kid=`` given), ``alg="HS256", key=<secret>``, ``alg="none"``; ``extra_claims`` values
        of ``None`` delete a claim.
        """
        user_permissions = list(DEFAULT_USER_PERMISSIONS if user_permissions is None else user_permissions)
        if permissions is None:
            permissions = [p for p in app.permissions if p in user_permissions]
        issued = int(time.time()) if iat is None else int(iat)
        claims: dict[str, Any] = {
            "iat": issued,
            "owner": "saleor",
            "iss": issuer or self.api_url,
            "exp": issued + ttl,
            "token": token_key or generate_app_token()[:12],
            "email": email,
            "type": "thirdparty",
            "user_id": user_id,
            "is_staff": is_staff,
            "app": app.id,
        }
        aud = audience or app.audience
        if aud:
            claims["aud"] = aud
        claims["permissions"] = permissions
        claims["user_permissions"] = user_permissions
        for k, v in (extra_claims or {}).items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        kid = self.key.kid if kid is None else kid
        alg_upper = alg.upper()
        if alg_upper == "NONE":
            return encode_unsigned_jwt(claims, {"alg": "none", "kid": kid, "typ": "JWT"})
        if alg_upper.startswith("HS"):
            if key is None:
                raise ValueError("HS* forgery needs key=<secret>")
            return jose_jwt.encode(claims, key, algorithm=alg_upper, headers={"kid": kid})
        signing = key or self.key
        if isinstance(signing, SigningKey):
            pem = signing.private_pem.decode()
        elif isinstance(signing, bytes):
            pem = signing.decode()
        else:
            pem = signing
        return jose_jwt.encode(claims, pem, algorithm=alg_upper, headers={"kid": kid})

    def mint_staff_token(
        self,
        *,
        permissions: list[str] | None = None,
        email: str = "admin@example.com",
        user_id: str = "VXNlcjoyMQ==",
        ttl: int = 300,
    ) -> str:
        """A staff ``access`` JWT accepted by this emulator's GraphQL endpoint."""
        issued = int(time.time())
        claims = {
            "iat": issued,
            "owner": "saleor",
            "iss": self.api_url,
            "exp": issued + ttl,
            "token": generate_app_token()[:12],
            "email": email,
            "type": "access",
            "user_id": user_id,
            "is_staff": True,
            "user_permissions": list(permissions or ALL_PERMISSIONS),
        }
        return jose_jwt.encode(claims, self.key.private_pem.decode(), algorithm="RS256", headers={"kid": self.key.kid})
