"""Outgoing HTTP the way Saleor core sends it: webhook deliveries, the token POST, manifest GET.

Saleor sends through ``requests`` (``requests_hardened``) with ``User-Agent: Saleor/<major.minor>``,
``allow_redirects=False`` and timeout ``(2, 18)``. Header order matches the captured fixtures:
``User-Agent, Accept-Encoding, Accept, Connection, <Saleor headers...>, Content-Length, Host``,
and ``Host`` carries **no port** (observed on the real server) unless the emulator is told
otherwise (``SaleorEmulator(host_header_without_port=False)``).

Retries (``send(retry=True)``) follow core ``handle_webhook_retry``: connection errors, timeouts and
5xx are retried on a schedule (real Saleor: 10, 20, 40, 80, 160 s; default here is fast); 3xx and
4xx are final. A retry re-posts the *same bytes* (Saleor reuses the stored ``EventPayload``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from .signing import sign_detached_jws

if TYPE_CHECKING:  # pragma: no cover
    from .server import SaleorEmulator
    from .state import App, Webhook

USER_AGENT = "Saleor/3.23"
DEFAULT_TIMEOUT = (2, 18)
DEFAULT_RETRY_SCHEDULE = [0.05, 0.1, 0.2, 0.4, 0.8]


def traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def send_saleor_request(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    timeout=DEFAULT_TIMEOUT,
    host_without_port: bool = True,
    user_agent: str = USER_AGENT,
) -> requests.Response:
    """One request with Saleor's client behaviour (no redirects, Saleor UA, header order)."""
    with requests.Session() as session:
        session.headers["User-Agent"] = user_agent
        session.trust_env = False
        prepared = session.prepare_request(requests.Request(method, url, headers=headers, data=body))
        host = urlsplit(url).hostname if host_without_port else urlsplit(url).netloc
        prepared.headers.pop("Host", None)
        prepared.headers["Host"] = host  # last, like the captured deliveries
        return session.send(prepared, allow_redirects=False, timeout=timeout)


@dataclass
class DeliveryAttempt:
    started_at: float
    duration: float
    status_code: int | None
    response_text: str | None
    error: str | None
    response: requests.Response | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        return self.status_code is None or self.status_code >= 500


@dataclass
class Delivery:
    """One webhook delivery (one event to one webhook). ``body`` is rendered on first access."""

    emulator: SaleorEmulator
    app: App
    webhook: Webhook
    event: str  # e.g. "ORDER_FULLY_PAID"
    _render: Callable[[], bytes | None] = field(repr=False)
    issued_at: str | None = None
    _body: bytes | None = field(default=None, repr=False)
    _rendered: bool = field(default=False, repr=False)
    headers: dict[str, str] = field(default_factory=dict)
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def target_url(self) -> str:
        return self.webhook.target_url

    @property
    def event_header(self) -> str:
        return self.event.lower()

    @property
    def body(self) -> bytes | None:
        """Payload bytes (``json.dumps`` of the subscription's ``event``), rendered once, lazily:
        the order state is the one at render time, as with Saleor's deferred payloads."""
        with self._lock:
            if not self._rendered:
                self._body = self._render()
                self._rendered = True
                if self._body is not None:
                    self.headers = self._build_headers(self._body)
            return self._body

    @property
    def payload(self) -> Any:
        import json

        return json.loads(self.body) if self.body is not None else None

    def _build_headers(self, body: bytes) -> dict[str, str]:
        em = self.emulator
        sig = sign_detached_jws(body, em.key)
        headers = {
            "Content-Type": "application/json",
            "X-Saleor-Event": self.event_header,
            "X-Saleor-Domain": em.domain,
            "X-Saleor-Signature": sig,
            "Saleor-Event": self.event_header,
            "Saleor-Domain": em.domain,
            "Saleor-Signature": sig,
            "Saleor-Api-Url": em.api_url,
            "traceparent": traceparent(),
        }
        headers.update(self.webhook.custom_headers)
        return headers

    @property
    def signature(self) -> str | None:
        self.body  # noqa: B018 - ensure rendered
        return self.headers.get("Saleor-Signature")

    @property
    def last(self) -> DeliveryAttempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def response(self) -> requests.Response | None:
        return self.last.response if self.last else None

    @property
    def status_code(self) -> int | None:
        return self.last.status_code if self.last else None

    @property
    def ok(self) -> bool:
        return bool(self.last and self.last.ok)

    @property
    def sent(self) -> bool:
        return bool(self.attempts)

    def _post_once(self, timeout) -> DeliveryAttempt:
        em = self.emulator
        start = time.monotonic()
        try:
            resp = send_saleor_request(
                "POST",
                self.target_url,
                self.headers,
                self.body,
                timeout=timeout,
                host_without_port=em.host_header_without_port,
                user_agent=em.version.user_agent,
            )
            attempt = DeliveryAttempt(start, time.monotonic() - start, resp.status_code, resp.text, None, resp)
        except requests.RequestException as exc:
            attempt = DeliveryAttempt(start, time.monotonic() - start, None, None, f"{type(exc).__name__}: {exc}")
        self.attempts.append(attempt)
        em._log_attempt(self, attempt)
        return attempt

    def send(self, *, retry: bool = False, schedule: list[float] | None = None, timeout=None) -> Delivery:
        """POST the payload (no-op if the subscription rendered nothing, like Saleor)."""
        if self.body is None:
            return self
        timeout = timeout or self.emulator.delivery_timeout
        attempt = self._post_once(timeout)
        if retry:
            for pause in schedule if schedule is not None else self.emulator.retry_schedule:
                if attempt.ok or not attempt.retryable:
                    break
                time.sleep(pause)
                attempt = self._post_once(timeout)
        return self

    def resend(self, **kwargs) -> Delivery:
        """Re-POST identical bytes and headers (Saleor's retry / ``eventDeliveryRetry``)."""
        return self.send(**kwargs)

    def clone(self) -> Delivery:
        """Same payload bytes and headers, fresh attempt list (for concurrent duplicate sends)."""
        self.body  # noqa: B018
        twin = Delivery(self.emulator, self.app, self.webhook, self.event, self._render, self.issued_at)
        twin._body, twin._rendered, twin.headers = self._body, True, dict(self.headers)
        return twin
