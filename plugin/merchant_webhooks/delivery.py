"""Sending stored events to the merchant's endpoints, signed per the Standard Webhooks spec.

At least once: a delivery stays pending until its endpoint answers 2xx, retried with
exponential backoff (WEBHOOK_RETRY_BASE_SECONDS × 2^(attempt−1), at most 2 h apart) until its
retry window (WEBHOOK_RETRY_HOURS) ends; the last try is at the end of the window. Every retry
sends the same `webhook-id` and the same body; receivers deduplicate on the id. Calls go through
plugin.outbound's guarded adapter: no redirects, one deadline for the whole call, the address a
connection reached checked again; the first KB of the answer is kept for the log. An endpoint
every attempt to which failed for the whole window is disabled.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from plugin import outbound as guarded
from plugin.db import session_scope, utcnow
from plugin.http import ApiError
from plugin.merchant_webhooks.endpoints import url_problem
from plugin.merchant_webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from plugin.merchant_webhooks.policy import CIRCUIT_AFTER, NOT_SENT_DISABLED, retry_window, settings
from plugin.tenants.crypto import TokenBox

log = logging.getLogger(__name__)

USER_AGENT = "saleor-referrals-webhooks/1"
MAX_RESPONSE_BYTES = 1024
MAX_BACKOFF = timedelta(hours=2)
# Never disabled on fewer failures in a row than this, however long ago the first one was.
DISABLE_MIN_FAILURES = 5


@dataclass
class Result:
    status_code: int | None
    error: str | None
    body: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def summary(self) -> str:
        """For the log: the status or the kind of failure, never the URL (it may carry a token)."""
        if self.status_code is not None:
            return f"HTTP {self.status_code}"
        return (self.error or "").split(":", 1)[0]


def backoff(attempts: int) -> timedelta:
    base = settings().webhook_retry_base_seconds
    return min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _printable(text: str, limit: int) -> str:
    return "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text[:limit])


def signature_headers(endpoint: WebhookEndpoint, message: WebhookMessage, box: TokenBox, at: datetime) -> dict:
    secrets = [box.decrypt(endpoint.secret_encrypted)]
    if endpoint.previous_secret_encrypted and endpoint.previous_secret_until and endpoint.previous_secret_until > at:
        secrets.append(box.decrypt(endpoint.previous_secret_encrypted))  # a rotation is under way
    return {
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(message.msg_id, at, message.body) for s in secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class _TruncatingAdapter(guarded.GuardedAdapter):
    """The guarded adapter (no redirects, a total deadline, the connected address checked), except
    that a long answer is cut to its first bytes instead of refused: the receiver took the event."""

    def _read_capped(self, response) -> bytes:
        try:
            return response.raw.read(self.max_bytes, decode_content=True) or b""
        finally:
            response.close()


def _session(cfg) -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # no proxy from the environment: the address check applies to every call
    http.max_redirects = 0
    adapter = _TruncatingAdapter(
        max_bytes=MAX_RESPONSE_BYTES,
        address_policy={"allow_loopback": cfg.webhooks_allow_local, "allow_private": cfg.webhooks_allow_local},
    )
    for prefix in ("http://", "https://"):
        http.mount(prefix, adapter)
    return http


def post(url: str, body: bytes, headers: dict, cfg) -> Result:
    """One POST within WEBHOOK_TIMEOUT in all: no redirects, the first KB of the answer kept."""
    problem = url_problem(url, cfg)  # again at send time: the merchant's DNS may have changed
    if problem:
        return Result(None, f"Refused: the URL {problem}.", "", 0)
    started = time.monotonic()

    def failed(error: str) -> Result:
        return Result(None, _printable(error, 300), "", int((time.monotonic() - started) * 1000))

    try:
        with _session(cfg) as http:
            response = http.post(url, data=body, headers=headers, timeout=cfg.webhook_timeout)
    except guarded.RedirectRefused as exc:
        return failed(f"{exc}: redirects are not followed, configure the final URL.")
    except guarded.AddressRefused as exc:
        return failed(f"Refused: the connection reached a {exc.reason}.")
    except requests.RequestException as exc:
        return failed(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a broken answer (bad encoding, ...) is a failed attempt
        return failed(f"{type(exc).__name__}: {exc}")
    duration = int((time.monotonic() - started) * 1000)
    text = _printable(response.content.decode("utf-8", errors="replace"), MAX_RESPONSE_BYTES)
    status = response.status_code
    if 200 <= status < 300:
        return Result(status, None, text, duration)
    return Result(status, f"HTTP {status}", text, duration)


def _locked_delivery(session: Session, delivery_id: int) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def deliver(tenant_id: int, delivery_id: int) -> str:
    """The task's work: send one due delivery. Safe to call twice: a delivery that is not due,
    or is being sent by another worker, is skipped."""
    with session_scope(tenant_id) as session:
        delivery = _locked_delivery(session, delivery_id)
        if delivery is None or delivery.status != WebhookDelivery.PENDING or delivery.next_attempt_at > utcnow():
            return "skipped"
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        if not endpoint.enabled:
            delivery.status, delivery.last_error = WebhookDelivery.FAILED, NOT_SENT_DISABLED
            return "failed"
        return _attempt(session, delivery, endpoint, manual=False)


def redeliver(tenant_id: int, delivery_id: int) -> str:
    """The merchant's "send again": one attempt now, whatever the delivery's state. A delivered
    message is sent again with the same webhook-id (receivers deduplicate on it)."""
    with session_scope(tenant_id) as session:
        if session.get(WebhookDelivery, delivery_id) is None:
            raise ApiError(404, "NOT_FOUND", "No such delivery in this shop.")
        delivery = _locked_delivery(session, delivery_id)
        if delivery is None:
            raise ApiError(409, "IN_PROGRESS", "This delivery is being sent right now; look again shortly.")
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        if not endpoint.enabled:
            raise ApiError(409, "ENDPOINT_DISABLED", "The endpoint is disabled; enable it first.")
        return _attempt(session, delivery, endpoint, manual=True)


def _attempt(session: Session, delivery: WebhookDelivery, endpoint: WebhookEndpoint, *, manual: bool) -> str:
    cfg = settings()
    message = session.get(WebhookMessage, delivery.message_id)
    now = utcnow()
    headers = signature_headers(endpoint, message, TokenBox(cfg.secret_key), now)
    result = post(endpoint.url, message.body.encode(), headers, cfg)
    session.add(
        WebhookAttempt(
            tenant_id=delivery.tenant_id,
            delivery_id=delivery.id,
            at=now,
            status_code=result.status_code,
            error=result.error,
            response_body=result.body,
            duration_ms=result.duration_ms,
            manual=manual,
        )
    )
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = result.status_code
    delivery.redriven_at = None
    if result.ok:
        delivery.status = WebhookDelivery.DELIVERED
        delivery.delivered_at = delivery.delivered_at or now
        delivery.last_error = None
        if endpoint.consecutive_failures:
            _recovered(session, endpoint, now)
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint.id)
            .values(consecutive_failures=0, failing_since=None, last_success_at=now)
            .execution_options(synchronize_session=False)
        )
        return "delivered"
    delivery.last_error = result.error
    gave_up = False
    if delivery.status == WebhookDelivery.PENDING:
        if now >= delivery.give_up_at:
            delivery.status, gave_up = WebhookDelivery.FAILED, True
        else:  # the last try falls on the end of the window
            delivery.next_attempt_at = min(now + backoff(delivery.attempts), delivery.give_up_at)
    log.info(
        "webhook delivery %s of tenant %s to endpoint %s failed (attempt %s): %s",
        delivery.id,
        delivery.tenant_id,
        endpoint.id,
        delivery.attempts,
        result.summary,
    )
    _note_failure(session, endpoint, delivery, now, gave_up=gave_up, error=result.error)
    return "failed" if delivery.status == WebhookDelivery.FAILED else "retry"


def _recovered(session: Session, endpoint: WebhookEndpoint, now: datetime) -> None:
    """The endpoint answers again: its deliveries waiting out a backoff become due now (the
    sweeper sends them). Rows another worker is sending are skipped, not waited for."""
    d = WebhookDelivery
    waiting = select(d.id).where(d.endpoint_id == endpoint.id, d.status == d.PENDING, d.next_attempt_at > now)
    if session.get_bind().dialect.name != "sqlite":
        waiting = waiting.with_for_update(skip_locked=True)
    ids = session.scalars(waiting).all()
    if ids:
        session.execute(
            update(d)
            .where(d.id.in_(ids))
            .values(next_attempt_at=now, redriven_at=None)
            .execution_options(synchronize_session=False)
        )


def _note_failure(
    session: Session, endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: datetime, *, gave_up: bool, error: str
) -> None:
    """Count the failure (one atomic UPDATE: deliveries to one endpoint run side by side) and
    disable the endpoint once every attempt to it has failed for the whole retry window."""
    table = WebhookEndpoint
    session.execute(
        update(table)
        .where(table.id == endpoint.id)
        .values(
            consecutive_failures=table.consecutive_failures + 1,
            failing_since=func.coalesce(table.failing_since, now),
        )
        .execution_options(synchronize_session=False)
    )
    window = retry_window()
    failing_long_enough = table.failing_since <= now - window
    if gave_up:  # this delivery's whole window passed without one success from the endpoint
        first_attempt = session.scalar(
            select(func.min(WebhookAttempt.at)).where(WebhookAttempt.delivery_id == delivery.id)
        )
        failing_long_enough = failing_long_enough | (table.failing_since <= first_attempt)
    hours = f"{window.total_seconds() / 3600:g}"
    disabled = session.execute(
        update(table)
        .where(
            table.id == endpoint.id,
            table.enabled.is_(True),
            table.consecutive_failures >= DISABLE_MIN_FAILURES,
            failing_long_enough,
        )
        .values(
            enabled=False,
            disabled_at=now,
            disabled_reason=_printable(
                f"Disabled automatically: every delivery attempt failed for {hours} hours. Last error: {error}", 500
            ),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if disabled:
        log.warning("webhook endpoint %s of tenant %s disabled after repeated failure", endpoint.id, endpoint.tenant_id)


# -- for the sweeper ------------------------------------------------------------------------------

LOG_RETENTION = timedelta(days=30)
GAVE_UP = "Gave up: the endpoint kept failing for the whole retry window."


def due_deliveries(session: Session, cutoff: datetime, limit: int = 1000) -> list[tuple[int, int]]:
    """(tenant, delivery) ids the sweeper should hand to the runner now, marked as re-driven.

    Deliveries younger than `cutoff` that were never tried are their own task's; a delivery
    re-driven since `cutoff` waits one more round. A failing endpoint (CIRCUIT_AFTER failures
    in a row) gets one delivery per round, so its timeouts cannot hold every worker; the others
    wait, and give up when their window ends. A disabled endpoint's deliveries fail at once.
    """
    now = utcnow()
    d, e = WebhookDelivery, WebhookEndpoint
    disabled = select(e.id).where(e.enabled.is_(False))
    failing = select(e.id).where(e.enabled.is_(True), e.consecutive_failures >= CIRCUIT_AFTER)
    session.execute(
        update(d)
        .where(d.status == d.PENDING, d.endpoint_id.in_(disabled))
        .values(status=d.FAILED, last_error=NOT_SENT_DISABLED)
        .execution_options(synchronize_session=False)
    )
    due = [
        d.status == d.PENDING,
        d.next_attempt_at <= now,
        or_(d.attempts > 0, d.created_at < cutoff),
        or_(d.redriven_at.is_(None), d.redriven_at < cutoff),
    ]
    rows = list(
        session.execute(
            select(d.tenant_id, d.id)
            .join(e, e.id == d.endpoint_id)
            .where(*due, e.enabled.is_(True), e.consecutive_failures < CIRCUIT_AFTER)
            .order_by(d.id)
            .limit(limit)
        ).all()
    )
    for endpoint_id in session.scalars(failing).all():
        probe = session.execute(
            select(d.tenant_id, d.id)
            .where(*due, d.endpoint_id == endpoint_id)
            .order_by(d.next_attempt_at, d.id)
            .limit(1)
        ).first()
        if probe is not None:
            rows.append(probe)
        # The rest of a failing endpoint's deliveries whose window ended give up without a try.
        session.execute(
            update(d)
            .where(
                d.status == d.PENDING,
                d.give_up_at < now,
                d.endpoint_id == endpoint_id,
                d.id != (probe.id if probe else -1),
            )
            .values(status=d.FAILED, last_error=GAVE_UP)
            .execution_options(synchronize_session=False)
        )
    if rows:
        session.execute(
            update(d)
            .where(d.id.in_([r.id for r in rows]))
            .values(redriven_at=now)
            .execution_options(synchronize_session=False)
        )
    return [(r.tenant_id, r.id) for r in rows]


def prune(session: Session, limit: int = 1000) -> int:
    """Forget events older than LOG_RETENTION that nobody still waits for (deliveries and
    attempts go with them)."""
    m, d = WebhookMessage, WebhookDelivery
    old = (
        select(m.id)
        .where(
            m.created_at < utcnow() - LOG_RETENTION,
            ~select(d.id).where(d.message_id == m.id, d.status == d.PENDING).exists(),
        )
        .limit(limit)
    )
    ids = session.scalars(old).all()
    if ids:
        session.execute(delete(m).where(m.id.in_(ids)).execution_options(synchronize_session=False))
    return len(ids)
