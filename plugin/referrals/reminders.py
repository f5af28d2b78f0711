"""The friend's reminder: one e-mail N days before their code expires (the program's
`messages.friend_reminder_days`), for friends who ticked "Remind me before my code expires".

Never after the friend ordered (an order carrying the code, the code used, or a referral of that
friend by the advocate), never for a code revoked or expired, never twice: the claim's
`reminded_at` is set in the transaction that writes the e-mail to the outbox (whose key,
`reminder:<claim>`, is unique too). The sweeper queues `send_friend_reminders` for shops with
claims waiting; each claim is handled in its own transaction, so one bad row never blocks others.
The e-mail is in the language the friend claimed in, and honours the suppression list like every
non-transactional e-mail (plugin.mail.delivery).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.db import serialized, session_scope, utcnow
from plugin.identity import is_pseudonym
from plugin.mail.compose import queue_friend_reminder
from plugin.program.settings import load_program
from plugin.program.validation import MAX_REMINDER_DAYS
from plugin.referrals.models import Advocate, FriendClaim, OrderRecord, Referral
from plugin.tenants.models import Tenant

log = logging.getLogger(__name__)

REMINDER_BATCH = 200  # claims per run; the next sweep takes the rest


def _waiting(now: datetime, until: datetime) -> list:
    """Claims that asked for a reminder, have not had it, and whose live, unused code expires in (now, until]."""
    return [
        FriendClaim.remind_opt_in_at.is_not(None),
        FriendClaim.reminded_at.is_(None),
        Coupon.state == Coupon.ISSUED,
        Coupon.expires_at > now,
        Coupon.expires_at <= until,
        ~exists().where(and_(OrderRecord.tenant_id == FriendClaim.tenant_id, OrderRecord.voucher_code == Coupon.code)),
        ~exists().where(
            and_(
                Referral.tenant_id == FriendClaim.tenant_id,
                Referral.advocate_id == FriendClaim.advocate_id,
                Referral.friend_email == FriendClaim.email,
            )
        ),
    ]


def tenants_with_reminders(session: Session, installed) -> list[int]:
    """Shops that may have a reminder due (within the longest allowed lead time); the task checks
    each claim against its shop's own number of days."""
    now = utcnow()
    return session.scalars(
        select(FriendClaim.tenant_id)
        .join(Coupon, Coupon.id == FriendClaim.coupon_id)
        .where(*_waiting(now, now + timedelta(days=MAX_REMINDER_DAYS)), FriendClaim.tenant_id.in_(installed))
        .distinct()
    ).all()


def send_due_reminders(tenant_id: int) -> int:
    """Write the reminders now due for one shop to the outbox; returns how many."""
    now = utcnow()
    with session_scope(tenant_id) as session:
        tenant = session.get(Tenant, tenant_id)
        program = load_program(session, tenant_id)
        if tenant is None or not tenant.is_installed or not program.enabled:
            return 0
        due_by = now + timedelta(days=program.messages.friend_reminder_days)
        claim_ids = session.scalars(
            select(FriendClaim.id)
            .join(Coupon, Coupon.id == FriendClaim.coupon_id)
            .where(*_waiting(now, due_by))
            .order_by(Coupon.expires_at, FriendClaim.id)
            .limit(REMINDER_BATCH)
        ).all()
    written = 0
    for claim_id in claim_ids:
        try:
            written += _remind(tenant_id, claim_id, due_by)
        except Exception:  # noqa: BLE001 - one claim must never hold up the others; the next sweep retries it
            log.exception("reminder for claim %s of tenant %s failed", claim_id, tenant_id)
    return written


def _remind(tenant_id: int, claim_id: int, due_by: datetime) -> int:
    with session_scope(tenant_id) as session, serialized(session):
        query = select(FriendClaim).where(FriendClaim.id == claim_id)
        if session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        claim = session.scalar(query)
        now = utcnow()
        # Checked again under the claim's lock: the friend may have ordered since the query above.
        still_due = (
            claim is not None
            and session.scalar(
                select(FriendClaim.id)
                .join(Coupon, Coupon.id == FriendClaim.coupon_id)
                .where(FriendClaim.id == claim_id, *_waiting(now, due_by))
            )
            is not None
        )
        if not still_due or is_pseudonym(claim.contact_email):
            return 0
        advocate = session.get(Advocate, claim.advocate_id)
        if advocate is None or advocate.erased_at is not None:
            return 0
        coupon = session.get(Coupon, claim.coupon_id)
        tenant = session.get(Tenant, tenant_id)
        program = load_program(session, tenant_id)
        days_left = max(1, math.ceil((coupon.expires_at - now) / timedelta(days=1)))
        queue_friend_reminder(session, tenant, program, claim, coupon, advocate, days_left)
        claim.reminded_at = now
    return 1
