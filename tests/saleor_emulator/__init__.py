"""A Saleor core emulator for the referral app's tests (loopback only), playing 3.23.28 or, with
``version="3.21"``/``"3.22"``, the newest release of an older line (see ``versions.py``).

Usage::

    from tests.saleor_emulator import SaleorEmulator

    with SaleorEmulator() as saleor:                    # random free port on 127.0.0.1
        result = saleor.install("http://127.0.0.1:5000/api/manifest")   # manifest GET + token POST
        order = saleor.create_order("friend@example.com", total="5.37", metadata={"referral_code": "ALICE"})
        saleor.pay(order)                                # ORDER_PAID, ORDER_FULLY_PAID, ORDER_UPDATED
        token = saleor.mint_dashboard_token(result.app)  # Dashboard JWT for the iframe/backend

What is emulated
----------------
* ``POST /graphql/`` executes against the *real* SDL of the line played (3.23.28, 3.22.67 or
  3.21.69, found by ``tests/saleor_schemas.py``). Every document is parsed and validated; invalid ones get HTTP 400 with
  ``{"errors": [{"message", "locations", "extensions": {"exception": {"code": "GraphQLError"}}}],
  "extensions": {"cost": ...}}``. Note: core formats errors with ``code = type(exception).__name__``,
  so validation errors carry ``"GraphQLError"`` (not ``GRAPHQL_VALIDATION_FAILED``, which is an Apollo
  convention); syntax errors carry ``"GraphQLSyntaxError"`` and no ``extensions.cost``. Messages come
  from graphql-core 3 (core uses graphql-core-legacy 2, whose wording/quotes differ slightly).
  Successful responses are ``{"errors"?, "data", "extensions": {"cost": {"requestedQueryCost",
  "maximumAvailable": 50000}}}`` serialised compactly (as in the captured G response).
* Auth (core ``get_token_from_request``): ``Authorization: Bearer <t>``, ``Authorization: JWT <t>``
  or ``Authorization-Bearer: <t>``. A token that is not an active app's token is treated as
  **anonymous** (core does the same: it is neither a Saleor JWT nor a known app token), so
  ``{ app { id } }`` answers HTTP 200 with ``data.app = null`` and an error
  ``{"message": "To access this path, you need one of the following permissions:
  AUTHENTICATED_STAFF_USER, AUTHENTICATED_APP", "path": ["app"], "extensions": {"exception":
  {"code": "PermissionDenied"}}}``. Mutations without permission: ``data.<mutation> = null`` and a
  PermissionDenied error naming the mutation's permissions. Field-level permissions stated in the
  SDL descriptions ("Requires one of the following permissions: ...") are enforced generically
  (e.g. ``shop.defaultMailSenderAddress`` needs MANAGE_SETTINGS, ``channel.currencyCode`` needs an
  authenticated app). Saleor-signed JWTs (``mint_staff_token``/``mint_dashboard_token``) are accepted
  as staff users; a bad JWT yields ``ExpiredSignatureError``/``InvalidSignatureError`` errors.
* ``shop.name`` is "Emulated Shop" until ``set_shop_name(name)`` changes it (the merchant renaming the shop).
* Implemented roots: ``app``, ``shop``, ``me``, ``channels``, ``channel``, ``order``, ``orders``
  (filter customer/search/ids/numbers/status/chargeStatus/authorizeStatus/channels/checkoutIds/
  metadata/created/updatedAt, ``where`` subset, ``search``, ``channel``, ``sortBy``; newest first),
  ``voucher``, ``vouchers`` (filter search/ids/discountType/status/metadata/timesUsed),
  ``voucherCreate``, ``voucherUpdate``, ``voucherDelete``, ``voucherBulkDelete``,
  ``voucherChannelListingUpdate``, ``voucherCodeBulkDelete``, ``updateMetadata``,
  ``updatePrivateMetadata``, ``deleteMetadata``, ``deletePrivateMetadata`` (vouchers, orders, apps,
  channels). Error codes/messages follow core 3.23 (see ``resolvers.py``). Connections enforce
  ``first``/``last`` (required, <= 100) like core.
* Gift cards (``giftcards.py``): ``giftCardCreate`` (generated codes, metadata, tags, expiry, balance
  checks; Saleor's own e-mail recorded in ``state.notifications`` when ``userEmail`` is given),
  ``giftCard``, ``giftCards`` (filter isActive/metadata/tags/used/currency/code/balances, search),
  ``giftCardDeactivate``, ``giftCardActivate``, ``giftCardAddNote``, events. A storefront adds one to a
  checkout with ``checkoutAddPromoCode`` (an active, unexpired card in the channel's currency; the
  checkout's ``totalPrice`` goes down by its balance) and ``complete_checkout`` pays with it, as
  ``create_order(gift_cards=[code])`` does (balance used as core's ``add_gift_cards_to_order``, the
  card listed in ``order.giftCards``). The 3.23 gift-card payment gateway (``transactionInitialize``
  with ``saleor.io.gift-card-payment-gateway``) is not emulated. SHIPPING vouchers take the shipping
  off (``create_order(shipping=..., voucher_code=...)``); ``tax_rate`` makes ``net`` differ from ``gross``.
* Anything else answers a GraphQL error ``not emulated: <Type>.<field>`` (the document still
  validates), so gaps are visible rather than silently null.
* ``GET /.well-known/jwks.json``: one RSA-2048 key (kid = RFC 7638 thumbprint), ``rotate_key()``,
  ``jwks_available = False`` -> HTTP 500.
* Webhooks: ``install()`` creates webhooks from the manifest; order mutators (``checkout_complete``,
  ``pay``, ``mark_as_paid``, ``refund``, ``cancel``, ``fulfill``, ``emit``) change state and deliver
  the events Saleor sends, in Saleor's order, to every active app holding the event's permission.
  Payloads are rendered by executing the webhook's own subscription query (lazily, at send time:
  Saleor 3.23 order payloads are "deferred"), ``json.dumps``-serialised and signed with a detached
  RS256 JWS exactly like core. Mutations made through GraphQL (voucher*, metadata) fire their
  events (VOUCHER_*, ORDER_METADATA_UPDATED) in a background thread to subscribed webhooks.
* ``delete_app`` revokes the token and sends APP_DELETED to the app itself from 3.23.5; before,
  only to apps holding MANAGE_APPS (so an app without it never hears of its own removal).
* Versions: the manifest GET and token POST carry ``Saleor-Schema-Version``/``User-Agent`` of the
  line; manifests are validated with that line's rules (``install.py``), ``requiredSaleorVersion``
  included; payloads and ``shop.version`` report the release.
* Several apps side by side, as in a real shop: ``create_app(identifier, permissions, webhooks=[...])``
  adds one with its own token, permissions and subscription queries (aliases included, e.g.
  ``isPaid: isShippingRequired``). Each app's payload is rendered with its own permissions and signed
  with the one instance key, like every other app's. ``order(id:)`` answers anyone holding the id (core
  ``resolve_order``); its fields then answer per the requester: ``Order.user`` needs MANAGE_USERS,
  MANAGE_ORDERS, HANDLE_PAYMENTS, HANDLE_TAXES or ownership (core ``resolve_user``), ``totalGrantedRefund``
  & co. MANAGE_ORDERS; ``order(externalReference:)`` needs MANAGE_ORDERS.
* Fault injection: ``emulator.faults`` (see ``faults.py``).

Design notes
------------
* Modules: ``server.py`` (``SaleorEmulator``: WSGI server + driver API), ``schema.py`` (SDL loading,
  execution, permissions, error format, query cost), ``resolvers.py`` (Query/Mutation roots),
  ``views.py`` (records -> GraphQL dicts), ``state.py`` (records, global IDs), ``signing.py`` (keys,
  JWKS, JWS, JWT helpers), ``webhooks.py`` (``Delivery``, Saleor's HTTP client behaviour),
  ``install.py`` (manifest install flow), ``faults.py`` (fault injection).
* Resolvers are not attached to the cached ``GraphQLSchema`` (it is shared by every emulator in
  the process): execution passes ``field_resolver``/``type_resolver`` instead, which has the same
  effect and keeps concurrent emulators independent. graphql-core 3.2 executes the webhook
  ``subscription`` documents with ``execute`` directly (no fallback needed).
* The events-order override of the mutators is ``event_order=[...]`` (``order`` is the order).
* Outgoing requests carry ``Host: 127.0.0.1`` without the port, as Saleor's client did in the
  capture; ``SaleorEmulator(host_header_without_port=False)`` restores the normal header.

What is not emulated
--------------------
Checkouts beyond the above, products, order lines/discounts/transactions/fulfilment objects, gift
card products, gift cards restricted to a customer (``assignedTo``, 3.23) and metadata mutations on
gift cards, customers, sync webhooks, ``webhookCreate`` & co., the
SSRF IP filter (loopback is always allowed here), HMAC ``secretKey`` signatures, Celery timing
(deliveries are sent synchronously by the mutators; ``deliver_event(..., concurrently=n)`` makes
races), brand logo fetching, app extensions beyond their manifest validation.
"""

from .faults import FaultInjector
from .install import InstallError, InstallResult
from .schema import get_schema, schema_path
from .server import RecordedRequest, SaleorEmulator
from .signing import (
    SigningKey,
    b64url_decode,
    b64url_encode,
    decode_jwt_unverified,
    is_valid_detached_jws,
    sign_detached_jws,
    verify_detached_jws,
)
from .state import ALL_PERMISSIONS, SALEOR_VERSION, SCHEMA_VERSION, App, Webhook, from_global_id, to_global_id
from .versions import RELEASES, SaleorVersion
from .webhooks import Delivery, DeliveryAttempt

__all__ = [
    "ALL_PERMISSIONS",
    "App",
    "Delivery",
    "DeliveryAttempt",
    "FaultInjector",
    "InstallError",
    "InstallResult",
    "RELEASES",
    "RecordedRequest",
    "SALEOR_VERSION",
    "SaleorVersion",
    "SCHEMA_VERSION",
    "SaleorEmulator",
    "SigningKey",
    "Webhook",
    "b64url_decode",
    "b64url_encode",
    "decode_jwt_unverified",
    "from_global_id",
    "get_schema",
    "is_valid_detached_jws",
    "schema_path",
    "sign_detached_jws",
    "to_global_id",
    "verify_detached_jws",
]
