"""Sending what the outbox holds: one message, or every due one of a shop, through the transport.

Safe to run twice: a sent message is not sent again. An unsent one is retried with backoff,
then kept as failed where the merchant can see it and send it again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin import links
from plugin.db import session_scope, utcnow
from plugin.mail.models import MARKETING_KINDS, OutboundEmail
from plugin.mail.suppression import suppress_if_unsubscribed
from plugin.mail.transport import build_message, transport_from_config
from plugin.program.settings import load_program
from plugin.tenants.models import Tenant

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12  # about 3 h of backoff; the sweeper and the merchant can resend after
BATCH = 200  # due messages one run sends (the sweeper comes back for the rest)


def _backoff(cfg, attempts: int) -> timedelta:
    # MAIL_RETRY_BASE_SECONDS (default 5) lets the fault drills shorten the wait.
    return timedelta(seconds=min(cfg.mail_retry_base_seconds * 2**attempts, 1800))


def send_email(tenant_id: int, email_id: int) -> str:
    """Deliver one queued e-mail. Safe to call twice: a sent message is not sent again.

    A message that cannot even be built (an address that is not one mailbox) is marked failed at
    once, with the reason, in the merchant's list of failed e-mails; it never holds up the others.
    """
    cfg = current_app.config["SETTINGS"]
    with session_scope(tenant_id) as session:
        query = select(OutboundEmail).where(OutboundEmail.id == email_id)
        if session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        email = session.scalar(query)
        if email is None or email.status != OutboundEmail.PENDING:
            return "skipped"
        return _deliver(session, email, cfg, _sender(session, tenant_id, cfg), transport_from_config(cfg))


def _deliver(session: Session, email: OutboundEmail, cfg, sender: tuple[tuple[str, str], str], transport) -> str:
    """Send one claimed (row-locked) message and record the outcome on its row."""
    # Checked here, at the last moment, so an unsubscribe stops mail queued before it too.
    if suppress_if_unsubscribed(session, email):
        return "suppressed"
    email.attempts += 1
    try:
        from_, reply_to = sender
        message = build_message(
            from_,
            email.to_email,
            email.subject,
            email.text_body,
            email.html_body,
            reply_to=reply_to,
            message_id=f"<outbox-{email.tenant_id}-{email.id}@referrals.local>",
            list_unsubscribe=links.unsubscribe_url(email.tenant_id, email.to_email)
            if email.kind in MARKETING_KINDS
            else None,
        )
    except Exception as exc:  # noqa: BLE001 - retrying cannot fix the message; show it to the merchant
        email.status = OutboundEmail.FAILED
        email.last_error = f"Could not build the message: {type(exc).__name__}: {exc}"[:500]
        log.warning("e-mail %s of tenant %s could not be built: %s", email.id, email.tenant_id, type(exc).__name__)
        return "failed"
    try:
        transport.send(message)
    except Exception as exc:  # noqa: BLE001 - any transport failure is retried later
        email.last_error = f"{type(exc).__name__}: {exc}"[:500]
        email.next_attempt_at = utcnow() + _backoff(cfg, email.attempts)
        if email.attempts >= MAX_ATTEMPTS:
            email.status = OutboundEmail.FAILED
        # The exception's text may quote the recipient (SMTPRecipientsRefused): the log gets its type only.
        log.warning(
            "e-mail %s of tenant %s not sent (attempt %s): %s",
            email.id,
            email.tenant_id,
            email.attempts,
            type(exc).__name__,
        )
        return "retry"
    email.status = OutboundEmail.SENT
    email.sent_at = utcnow()
    email.last_error = None
    return "sent"


def send_pending(tenant_id: int) -> int:
    """Send every due e-mail of a tenant (new ones, and retries whose backoff ended); how many.

    Each message is claimed with FOR UPDATE SKIP LOCKED and its outcome committed on its own (a
    crash repeats at most the one in flight), so concurrent runs for one shop share the due
    messages instead of each trying every row; all go over one SMTP connection."""
    cfg = current_app.config["SETTINGS"]
    query = (
        select(OutboundEmail)
        .where(OutboundEmail.status == OutboundEmail.PENDING, OutboundEmail.next_attempt_at <= utcnow())
        # The (status, next_attempt_at) index's order: by id, PostgreSQL walked the primary key
        # through every sent message to reach the due ones (1,800 rows per referred order).
        .order_by(OutboundEmail.next_attempt_at, OutboundEmail.id)
        .limit(1)
    )
    handled, sender = 0, None
    with transport_from_config(cfg).connection() as transport:
        while handled < BATCH:
            with session_scope(tenant_id) as session:
                if session.get_bind().dialect.name != "sqlite":
                    query = query.with_for_update(skip_locked=True)
                email = session.scalar(query)
                if email is None:
                    break
                sender = sender or _sender(session, tenant_id, cfg)
                try:
                    _deliver(session, email, cfg, sender, transport)
                except Exception:  # noqa: BLE001 - one message must never hold up the others; the sweeper retries it
                    log.exception("e-mail %s of tenant %s: sending failed", email.id, tenant_id)
                    break
            handled += 1
    return handled


def _sender(session: Session, tenant_id: int, cfg) -> tuple[tuple[str, str], str]:
    """(From, Reply-To). The From address is always the operator's (`MAIL_FROM`), unless the merchant's
    sender address is at a domain the operator allows (`MAIL_SENDER_DOMAINS`): the merchant's name
    becomes the display name and their address the Reply-To. A Saleor that installed the app cannot
    make our mail server speak for someone else's domain."""
    settings = load_program(session, tenant_id).email
    return sender_headers(cfg, settings.sender, settings.reply_to, session.get(Tenant, tenant_id).shop_name)


def sender_headers(
    cfg, merchant_sender: str, merchant_reply_to: str, shop_name: str | None = None
) -> tuple[tuple[str, str], str]:
    """((display name, From address), Reply-To) for a merchant's `email.sender` and `email.reply_to`.
    The display name: the merchant's sender name, else the shop's name from Saleor, else the operator's."""
    operator_name, operator_address = parseaddr(cfg.mail_from)
    name, address = parseaddr(merchant_sender)
    name = name or shop_name or operator_name
    if address and address.rpartition("@")[2].lower() in cfg.mail_sender_domains:
        return (name, address), merchant_reply_to
    return (name, operator_address), merchant_reply_to or address
