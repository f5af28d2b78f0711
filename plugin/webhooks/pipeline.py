"""Turning a stored webhook delivery into domain work (the `process_event` task's body).

A delivery is a hint, not evidence: Saleor signs every app's deliveries with one key, and
every app writes its own subscription (with aliases), so a signed body proves only that some
app of this Saleor was sent it. The task reads the order from Saleor with the shop's own token
(outside any row lock, so a slow Saleor holds none) and decides on that answer alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import select

from plugin.db import record_failure, serialized, session_scope, utcnow
from plugin.program.settings import load_program
from plugin.referrals.friend_check import friend_checker
from plugin.referrals.order_records import read_order
from plugin.referrals.orders import apply_order_event
from plugin.tenants.models import Tenant
from plugin.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)

UNINSTALLED = "Skipped: the shop uninstalled the app."


@dataclass
class _Hint:
    tenant: Tenant
    order_id: str
    events: dict[int, str | None]  # stored deliveries about this order → the app each was rendered for


def process_event(tenant_id: int, event_id: int, *more_ids: int) -> str:
    """Apply stored deliveries (the relay hands over those of one order together). Idempotent: a
    processed event is skipped, and every effect of processing is keyed on the order, so running
    it again changes nothing. A failure is counted on the events (after the rollback released the
    locks) and raised."""
    event_ids = (event_id, *more_ids)
    try:
        return "done" if _apply(tenant_id, event_ids) else "skipped"
    except Exception as exc:
        log.warning("events %s of tenant %s failed: %s", event_ids, tenant_id, exc)
        for failed in event_ids:
            record_failure(tenant_id, WebhookEvent, failed, exc)
        raise


def _apply(tenant_id: int, event_ids: tuple[int, ...]) -> bool:
    """Whether this run applied an event (False: done before, or done now with a note only)."""
    applied = False
    for hint in _hints(tenant_id, event_ids):
        applied = _apply_order(tenant_id, hint) or applied
    return applied


def _apply_order(tenant_id: int, hint: _Hint) -> bool:
    if not hint.tenant.is_installed:
        return _finish(tenant_id, list(hint.events), UNINSTALLED)
    foreign = {event_id: recipient for event_id, recipient in hint.events.items() if recipient != hint.tenant.app_id}
    for event_id, recipient in foreign.items():
        log.warning("event %s of tenant %s ignored: rendered for app %.64r, not ours", event_id, tenant_id, recipient)
        _finish(
            tenant_id,
            [event_id],
            f"Ignored: this delivery was rendered for another app "
            f"({recipient!r:.80}), not for this shop's app; nothing changed.",
        )
    ours = sorted(event_id for event_id in hint.events if event_id not in foreign)
    if not ours:
        return False
    order = read_order(hint.tenant, hint.order_id)  # Saleor down → raises; the events stay pending
    if order is None:
        return _finish(
            tenant_id,
            ours,
            f"Ignored: Saleor shows no order {hint.order_id!r:.300} to this shop's app; nothing changed.",
        )

    with session_scope(tenant_id) as session, serialized(session):
        # Locked in id order, so tasks holding overlapping sets of one order's events never deadlock.
        events = session.scalars(
            select(WebhookEvent).where(WebhookEvent.id.in_(ours)).order_by(WebhookEvent.id).with_for_update()
        ).all()
        events = [event for event in events if event.status != WebhookEvent.DONE]
        if not events:
            return False
        tenant = session.get(Tenant, tenant_id)
        for event in events:
            event.attempts += 1
        if not tenant.is_installed:
            for event in events:
                _mark_done(event, UNINSTALLED)
            return False
        # One read answers for every delivery stored before it began: Saleor sends a delivery after
        # the change it tells of, so the order as read already shows what each of them says.
        program = load_program(session, tenant_id)
        apply_order_event(session, tenant, program, order, friend_check=friend_checker(tenant))
        for event in events:
            _mark_done(event, None)
        return True


def _hints(tenant_id: int, event_ids: tuple[int, ...]) -> list[_Hint]:
    """What the stored deliveries say, read without a lock: which orders to look up, for whom.
    Other unprocessed deliveries of the same orders come along: they were stored before the order
    is read, so that read covers them too, and their own tasks then find them done."""
    with session_scope(tenant_id) as session:
        given = session.scalars(
            select(WebhookEvent).where(WebhookEvent.id.in_(event_ids), WebhookEvent.status != WebhookEvent.DONE)
        ).all()
        if not given:
            return []
        order_ids = {_order_id(event) for event in given}
        siblings = session.scalars(
            select(WebhookEvent).where(
                WebhookEvent.order_id.in_(order_ids),
                WebhookEvent.status != WebhookEvent.DONE,
                WebhookEvent.id.not_in([event.id for event in given]),
            )
        ).all()
        tenant = session.get(Tenant, tenant_id)
    hints: dict[str, _Hint] = {}
    for event in [*given, *siblings]:
        order_id, recipient = _facts(event)
        if order_id not in order_ids:  # the column and the body disagree: trust only the body
            continue
        hints.setdefault(order_id, _Hint(tenant, order_id, {})).events[event.id] = recipient
    return list(hints.values())


def _order_id(event: WebhookEvent) -> str:
    return _facts(event)[0]


def _facts(event: WebhookEvent) -> tuple[str, str | None]:
    """(the order's id, the id of the app the delivery was rendered for) from the stored body."""
    payload = json.loads(event.body)
    recipient = payload.get("recipient")
    recipient_id = recipient.get("id") if isinstance(recipient, dict) else None
    return payload["order"]["id"], recipient_id if isinstance(recipient_id, str) else None


def _finish(tenant_id: int, event_ids: list[int], note: str) -> bool:
    """Mark the events done without changing anything else, with a note saying why."""
    with session_scope(tenant_id) as session:
        events = session.scalars(
            select(WebhookEvent).where(WebhookEvent.id.in_(event_ids)).order_by(WebhookEvent.id).with_for_update()
        ).all()
        for event in events:
            if event.status != WebhookEvent.DONE:
                event.attempts += 1
                _mark_done(event, note)
    return False


def _mark_done(event: WebhookEvent, note: str | None) -> None:
    event.status = WebhookEvent.DONE
    event.processed_at = utcnow()
    event.last_error = note
