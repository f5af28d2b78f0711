"""The one place the app talks to Saleor's GraphQL API.

Every document lives in `plugin/saleor/graphql/*.graphql` (validated against the
real schema in the test suite) and is sent with gql. Calls time out, retry with
backoff on 5xx, timeouts and connection errors only, and Saleor's `errors`
arrays become typed exceptions carrying Saleor's `code`.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any

import gql.transport.requests as gql_requests
import requests
from gql import Client, gql
from gql.client import SyncClientSession
from gql.transport.exceptions import (
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.requests import RequestsHTTPTransport
from graphql import (
    DocumentNode,
    FieldNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    Visitor,
    print_ast,
    visit,
)

from plugin import outbound

log = logging.getLogger(__name__)

GRAPHQL_DIR = Path(__file__).with_name("graphql")
USER_AGENT = "saleor-referrals"
MAX_CACHED_SESSIONS = 32  # per thread: one per shop this worker talks to, closed when it overflows
MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # our largest answer (a page of orders or vouchers) is a few KB
_SESSIONS = threading.local()


class SaleorError(Exception):
    """Base class. `code` is Saleor's error code where it gave one."""

    code: str | None = None

    def __init__(self, message: str, code: str | None = None, errors: list | None = None):
        super().__init__(message)
        self.code = code or self.code
        self.errors = errors or []


class SaleorUnavailable(SaleorError):
    """5xx, timeout or connection error after all retries: try again later."""

    code = "UNAVAILABLE"


class SaleorRefused(SaleorError):
    """We refused the answer or the address: a redirect, an oversized body, or an address the network
    policy forbids. Retrying changes nothing."""

    code = "REFUSED"


class SaleorPermissionDenied(SaleorError):
    code = "PermissionDenied"


class SaleorGraphQLError(SaleorError):
    """Top-level `errors` (validation, permission, unknown token...)."""


class SaleorMutationError(SaleorError):
    """A mutation's own `errors` list, e.g. ALREADY_EXISTS from voucherCreate."""

    def __init__(self, mutation: str, errors: list[dict]):
        first = errors[0]
        super().__init__(f"{mutation}: {first.get('code')}: {first.get('message')}", first.get("code"), errors)
        self.mutation = mutation
        self.field = first.get("field")


@cache
def document(name: str) -> DocumentNode:
    return gql((GRAPHQL_DIR / f"{name}.graphql").read_text())


_PRINTED: dict[int, tuple[DocumentNode, str]] = {}


def _printed_once(doc: DocumentNode) -> str:
    # gql turns the syntax tree back into text on every call: 3-6 ms of CPU for the order read,
    # every time. Our documents are fixed objects (cached above), so each is printed once.
    found = _PRINTED.get(id(doc))
    if found is None or found[0] is not doc:
        found = _PRINTED[id(doc)] = (doc, print_ast(doc))
    return found[1]


gql_requests.print_ast = _printed_once


class _NumberVariables(Visitor):
    def __init__(self, number: int):
        super().__init__()
        self.number = number

    def enter_variable(self, node: VariableNode, *_args) -> VariableNode:
        return VariableNode(name=NameNode(value=f"{node.name.value}_{self.number}"))


@cache
def aliased_document(name: str, count: int) -> DocumentNode:
    """`count` copies of the one-field operation in `name`.graphql as one document: the fields
    aliased r0, r1, …, each with its own variables (`$input` becomes `$input_0`, `$input_1`, …).
    Built from the file's syntax tree, so it asks exactly what the file asks, `count` times in
    one request (tests/saleor/test_documents.py validates them against every supported Saleor)."""
    (operation,) = document(name).definitions
    (field,) = operation.selection_set.selections
    variables, fields = [], []
    for number in range(count):
        renamer = _NumberVariables(number)
        variables += [visit(definition, renamer) for definition in operation.variable_definitions]
        copy = visit(field, renamer)
        fields.append(
            FieldNode(
                alias=NameNode(value=f"r{number}"),
                name=copy.name,
                arguments=copy.arguments,
                directives=copy.directives,
                selection_set=copy.selection_set,
            )
        )
    many = OperationDefinitionNode(
        operation=operation.operation,
        name=NameNode(value=f"{operation.name.value}Many"),
        variable_definitions=tuple(variables),
        directives=(),
        selection_set=SelectionSetNode(selections=tuple(fields)),
    )
    return DocumentNode(definitions=(many,))


class _Transport(RequestsHTTPTransport):
    """gql's transport, but a 5xx is an error even when its body is JSON, and every call goes
    through `plugin.outbound`'s rules: no redirects, a capped answer, a total deadline and, where
    the configuration asks for it, a check of the address reached."""

    def __init__(self, *args, address_policy: dict | None = None, **kwargs):
        self.address_policy = address_policy
        super().__init__(*args, allow_redirects=False, **kwargs)

    def connect(self):
        super().connect()
        adapter = outbound.GuardedAdapter(max_bytes=MAX_RESPONSE_BYTES, address_policy=self.address_policy)
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, adapter)

        def _raise_5xx(response, *args, **kwargs):
            if response.status_code >= 500:
                raise TransportServerError(f"HTTP {response.status_code}", response.status_code)

        self.session.hooks["response"].append(_raise_5xx)


class SaleorClient:
    def __init__(
        self,
        api_url: str,
        token: str | None,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.2,
        address_policy: dict | None = None,
    ):
        self.api_url = api_url
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.address_policy = address_policy

    def _session(self) -> SyncClientSession:
        """A connected gql session for this URL and token, kept per thread (and process) so calls
        reuse one HTTP keep-alive connection instead of opening a new one each time."""
        cache = getattr(_SESSIONS, "by_key", None)
        if cache is None or _SESSIONS.pid != os.getpid():  # a forked child must not share sockets
            cache = _SESSIONS.by_key = {}
            _SESSIONS.pid = os.getpid()
        policy = tuple(sorted(self.address_policy.items())) if self.address_policy is not None else None
        key = (self.api_url, self.token, self.timeout, policy)
        session = cache.get(key)
        if session is None:
            if len(cache) >= MAX_CACHED_SESSIONS:
                _close_all(cache)
            headers = {"User-Agent": USER_AGENT}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            transport = _Transport(
                url=self.api_url,
                headers=headers,
                timeout=self.timeout,
                retries=0,
                verify=True,
                address_policy=self.address_policy,
            )
            session = cache[key] = Client(transport=transport, fetch_schema_from_transport=False).connect_sync()
        return session

    def execute(self, name: str, variables: dict | None = None) -> dict[str, Any]:
        return self._execute(document(name), name, variables)

    def _execute(self, doc: DocumentNode, name: str, variables: dict | None = None) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return self._session().execute(doc, variable_values=variables or {})
            except TransportQueryError as exc:
                raise _query_error(exc) from None
            except (outbound.RedirectRefused, outbound.ResponseTooLarge, outbound.AddressRefused) as exc:
                raise SaleorRefused(f"Saleor call {name} refused: {exc}") from None
            except (TransportServerError, requests.ConnectionError, requests.Timeout) as exc:
                status = getattr(exc, "code", None)
                if isinstance(exc, TransportServerError) and status is not None and status < 500:
                    raise SaleorGraphQLError(f"Saleor answered HTTP {status}", code=str(status)) from None
                attempt += 1
                delay = self.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 2)
                left = outbound.remaining()
                if attempt > self.retries or (left is not None and left <= delay):
                    raise SaleorUnavailable(f"Saleor unavailable after {attempt} attempts: {exc}") from None
                log.warning("saleor call %s failed (%s); retry %d in %.2fs", name, exc, attempt, delay)
                time.sleep(delay)
            except TransportProtocolError:
                # gql's message quotes the whole answer; it is not ours to log.
                raise SaleorGraphQLError(f"Saleor did not answer {name} with GraphQL") from None

    def mutate(self, name: str, field: str, variables: dict) -> dict[str, Any]:
        data = self.execute(name, variables)[field]
        if data.get("errors"):
            raise SaleorMutationError(field, data["errors"])
        return data

    def mutate_many(self, name: str, field: str, variables: list[dict]) -> list[dict[str, Any]]:
        """The mutation in `name` once per entry of `variables`, in one request (aliased fields);
        each entry's payload in order, its `errors` left for the caller to judge one by one."""
        if len(variables) == 1:
            return [self.execute(name, variables[0])[field]]
        numbered = {f"{key}_{n}": value for n, entry in enumerate(variables) for key, value in entry.items()}
        data = self._execute(aliased_document(name, len(variables)), name, numbered)
        return [data[f"r{n}"] for n in range(len(variables))]

    # -- the calls the app makes -------------------------------------------------

    def app_id(self) -> str | None:
        data = self.execute("app_id")
        return (data.get("app") or {}).get("id")

    def order(self, order_id: str) -> tuple[str | None, dict | None]:
        """(the app Saleor took our token for, the order as Saleor shows it to that app or None)."""
        data = self.execute("order_for_referral", {"id": order_id})
        return (data.get("app") or {}).get("id"), data.get("order")

    def shop_info(self) -> dict:
        return self.execute("shop_info")

    def shop_name(self) -> str | None:
        """Saleor's `shop.name` (any token may read it), as Saleor gives it: not yet cleaned."""
        return (self.execute("shop_name").get("shop") or {}).get("name")

    def create_voucher(self, input: dict) -> dict:
        return self.mutate("voucher_create", "voucherCreate", {"input": input})["voucher"]

    def create_vouchers(self, inputs: list[dict]) -> list[dict]:
        """voucherCreate for each input, in one request: each one's payload (voucher, errors)."""
        return self.mutate_many("voucher_create", "voucherCreate", [{"input": i} for i in inputs])

    def set_voucher_channel(self, voucher_id: str, channel_id: str, value: str, min_amount: str | None):
        return self.set_voucher_channels([(voucher_id, channel_id, value, min_amount)])[0]

    def set_voucher_channels(self, listings: list[tuple[str, str, str, str | None]]) -> list[dict]:
        """List each (voucher id, channel id, discount value, minimum spent) in its channel, in one
        request; raises on the first listing Saleor refused."""
        variables = []
        for voucher_id, channel_id, value, min_amount in listings:
            listing = {"channelId": channel_id, "discountValue": value}
            if min_amount is not None:
                listing["minAmountSpent"] = min_amount
            variables.append({"id": voucher_id, "input": {"addChannels": [listing]}})
        payloads = self.mutate_many("voucher_channel_listing_update", "voucherChannelListingUpdate", variables)
        for payload in payloads:
            if payload.get("errors"):
                raise SaleorMutationError("voucherChannelListingUpdate", payload["errors"])
        return [payload["voucher"] for payload in payloads]

    def find_voucher_code(self, code: str) -> tuple[dict, dict] | None:
        """(voucher, code node) for an exact code, or None."""
        edges = self.execute("voucher_by_code", {"code": code})["vouchers"]["edges"]
        for edge in edges:
            for code_edge in edge["node"]["codes"]["edges"]:
                if code_edge["node"]["code"].upper() == code.upper():
                    return edge["node"], code_edge["node"]
        return None

    def delete_voucher_codes(self, code_ids: list[str]) -> int:
        return self.mutate("voucher_code_bulk_delete", "voucherCodeBulkDelete", {"ids": code_ids})["count"]

    # Gift cards (store credit). Saleor generates their codes, so a card is found again by the
    # metadata we give it at creation (plugin/coupons/giftcards.py).

    def create_gift_card(self, input: dict) -> dict:
        return self.mutate("gift_card_create", "giftCardCreate", {"input": input})["giftCard"]

    def find_gift_card(self, key: str, value: str) -> dict | None:
        """The gift card whose metadata has `key` = `value`, or None."""
        edges = self.execute("gift_card_by_reward", {"metadata": [{"key": key, "value": value}]})["giftCards"]["edges"]
        return edges[0]["node"] if edges else None

    def used_gift_cards(self, key: str, page_size: int = 100):
        """Every used gift card carrying metadata `key` (any value), page by page."""
        after = None
        while True:
            page = self.execute("used_gift_cards", {"key": key, "first": page_size, "after": after})["giftCards"]
            for edge in page["edges"]:
                yield edge["node"]
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    def gift_card(self, gift_card_id: str) -> dict | None:
        return self.execute("gift_card", {"id": gift_card_id})["giftCard"]

    def deactivate_gift_card(self, gift_card_id: str) -> dict:
        return self.mutate("gift_card_deactivate", "giftCardDeactivate", {"id": gift_card_id})["giftCard"]

    def add_gift_card_note(self, gift_card_id: str, message: str) -> None:
        self.mutate("gift_card_add_note", "giftCardAddNote", {"id": gift_card_id, "message": message})

    def customer_orders(self, email: str) -> list[dict]:
        return [e["node"] for e in self.execute("customer_orders", {"email": email})["orders"]["edges"]]


def _close_all(sessions: dict) -> None:
    for session in sessions.values():
        try:
            session.client.close_sync()
        except Exception:  # noqa: BLE001 - closing a dead connection is not an error worth raising
            pass
    sessions.clear()


def _query_error(exc: TransportQueryError) -> SaleorError:
    errors = exc.errors or []
    first = errors[0] if errors else {}
    code = ((first.get("extensions") or {}).get("exception") or {}).get("code")
    message = first.get("message", str(exc))
    if code == "PermissionDenied":
        return SaleorPermissionDenied(message, code, errors)
    return SaleorGraphQLError(message, code, errors)
