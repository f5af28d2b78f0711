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

from sqlalchemy import any_, func, or_, select, update

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
        # Locked in id order, so tasks holding overlapping sets of one order's events never deadlock;
        # ids only (Core, no ORM objects): the bodies were read above.
        # The shop's installed state comes with the lock (an uninstall may have happened since the hint).
        rows = (
            session.connection()
            .execute(
                select(WebhookEvent.id, Tenant.is_installed)
                .join(Tenant, Tenant.id == WebhookEvent.tenant_id)
                .where(
                    WebhookEvent.tenant_id == tenant_id,
                    WebhookEvent.id.in_(ours),
                    WebhookEvent.status != WebhookEvent.DONE,
                )
                .order_by(WebhookEvent.id)
                .with_for_update(of=WebhookEvent)
            )
            .all()
        )
        if not rows:
            return False
        events = [event_id for event_id, _installed in rows]
        if not rows[0][1]:
            _mark_done(session, tenant_id, events, UNINSTALLED)
            return False
        tenant = session.merge(hint.tenant, load=False)  # read moments ago by _hints; no second SELECT
        # One read answers for every delivery stored before it began: Saleor sends a delivery after
        # the change it tells of, so the order as read already shows what each of them says.
        program = load_program(session, tenant_id)
        apply_order_event(session, tenant, program, order, friend_check=friend_checker(tenant))
        _mark_done(session, tenant_id, events, None)
        return True


def _hints(tenant_id: int, event_ids: tuple[int, ...]) -> list[_Hint]:
    """What the stored deliveries say, read without a lock: which orders to look up, for whom.
    Other unprocessed deliveries of the same orders come along: they were stored before the order
    is read, so that read covers them too, and their own tasks then find them done."""
    with session_scope(tenant_id) as session:
        # Core on the session's connection, with the tenant checked here: the ORM's tenant criterion
        # made PostgreSQL walk the shop's whole tenant_id index instead of the two precise ones.
        connection = session.connection()
        stored_orders = (
            select(WebhookEvent.order_id)
            .where(WebhookEvent.id.in_(event_ids), WebhookEvent.order_id.is_not(None))
            .scalar_subquery()
        )
        # = ANY(ARRAY(subquery)): an InitPlan, so both branches of the OR stay index scans; a plain
        # IN (subquery) became a hashed SubPlan filter over a sequential scan of the whole table.
        same_order = (
            WebhookEvent.order_id == any_(func.array(stored_orders))
            if connection.dialect.name == "postgresql"
            else WebhookEvent.order_id.in_(stored_orders)
        )
        rows = connection.execute(
            select(WebhookEvent.id, WebhookEvent.tenant_id, WebhookEvent.body).where(
                WebhookEvent.status != WebhookEvent.DONE, or_(WebhookEvent.id.in_(event_ids), same_order)
            )
        ).all()
        rows = [(event_id, body) for event_id, owner, body in rows if owner == tenant_id]
        if not rows:
            return []
        tenant = session.get(Tenant, tenant_id)
    facts = {event_id: _facts(body) for event_id, body in rows}
    order_ids = {facts[event_id][0] for event_id in event_ids if event_id in facts}
    hints: dict[str, _Hint] = {}
    for event_id, (order_id, recipient) in facts.items():
        if order_id in order_ids:  # the column and the body could disagree: only the body counts
            hints.setdefault(order_id, _Hint(tenant, order_id, {})).events[event_id] = recipient
    return list(hints.values())


def _facts(body: str) -> tuple[str, str | None]:
    """(the order's id, the id of the app the delivery was rendered for) from a stored body."""
    payload = json.loads(body)
    recipient = payload.get("recipient")
    recipient_id = recipient.get("id") if isinstance(recipient, dict) else None
    return payload["order"]["id"], recipient_id if isinstance(recipient_id, str) else None


def _finish(tenant_id: int, event_ids: list[int], note: str) -> bool:
    """Mark the events done without changing anything else, with a note saying why."""
    with session_scope(tenant_id) as session:
        _mark_done(session, tenant_id, event_ids, note)
    return False


def _mark_done(session, tenant_id: int, event_ids: list[int], note: str | None) -> None:
    session.execute(
        update(WebhookEvent)
        .where(
            WebhookEvent.tenant_id == tenant_id,
            WebhookEvent.id.in_(event_ids),
            WebhookEvent.status != WebhookEvent.DONE,
        )
        .values(status=WebhookEvent.DONE, processed_at=utcnow(), last_error=note, attempts=WebhookEvent.attempts + 1)
        .execution_options(synchronize_session=False)
    )
