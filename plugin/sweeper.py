"""The backstop: re-drive whatever was stored but not finished.

Covers a broker that was down at enqueue time, a worker killed mid-task, and
Saleor or SMTP outages longer than a task's own retries. Everything it
re-enqueues is idempotent, so running it too often costs only queries.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, exists, or_, select, update

from plugin.coupons.models import Coupon
from plugin.coupons.tasks import issue_coupon, refresh_gift_card_balances, revoke_referral
from plugin.db import session_scope, utcnow
from plugin.mail.models import OutboundEmail
from plugin.mail.tasks import send_pending_emails
from plugin.merchant_webhooks import delivery as merchant_webhooks
from plugin.merchant_webhooks.tasks import deliver_webhook
from plugin.referrals.models import Referral
from plugin.referrals.reminders import tenants_with_reminders
from plugin.referrals.tasks import release_holds, send_friend_reminders
from plugin.tasks import task
from plugin.tenants import service as tenants
from plugin.tenants.models import Tenant
from plugin.tenants.tasks import refresh_shop_name
from plugin.webhooks.models import WebhookEvent
from plugin.webhooks.tasks import process_event

log = logging.getLogger(__name__)


# Referral-reward gift cards: their balances are read from Saleor at most this often per shop
# (plugin.coupons.giftcards.refresh_balances); kept per process, so a restart reads once more.
GIFT_CARD_REFRESH_SECONDS = 3600
_gift_cards_refreshed: dict[int, float] = {}


def grace() -> timedelta:
    """Work younger than this is probably still in flight; leave it alone."""
    return timedelta(seconds=current_app.config["SETTINGS"].sweep_grace)


@task("sweep")
def sweep() -> dict:
    cutoff = utcnow() - grace()
    # Shops that uninstalled the app have no token: nothing of theirs can be finished.
    installed = select(Tenant.id).where(Tenant.is_installed)
    counts = {
        "events": 0,
        "coupons": 0,
        "revocations": 0,
        "email_tenants": 0,
        "hold_tenants": 0,
        "webhook_deliveries": 0,
        "webhook_messages_pruned": 0,
        "gift_card_tenants": 0,
        "shop_name_tenants": 0,
        "reminder_tenants": 0,
    }
    with session_scope() as session:
        # Only events handed to the broker a grace period ago: rows not queued yet are the relay's
        # (plugin/webhooks/relay.py), which sends each once when the broker is back. A row
        # re-queued by an earlier sweep waits one more grace period before the next copy, so a
        # backlog in the broker is not flooded with duplicates of work already queued.
        events = session.execute(
            select(WebhookEvent.tenant_id, WebhookEvent.id)
            .where(
                WebhookEvent.status == WebhookEvent.PENDING,
                WebhookEvent.queued_at < cutoff,
                or_(WebhookEvent.redriven_at.is_(None), WebhookEvent.redriven_at < cutoff),
            )
            .order_by(WebhookEvent.id)
            .limit(1000)
        ).all()
        coupons = session.execute(
            select(Coupon.tenant_id, Coupon.id)
            .where(
                Coupon.state == Coupon.RESERVED,
                Coupon.created_at < cutoff,
                Coupon.tenant_id.in_(installed),
                or_(Coupon.redriven_at.is_(None), Coupon.redriven_at < cutoff),
            )
            .order_by(Coupon.id)
            .limit(1000)
        ).all()
        now = utcnow()
        if events:
            session.execute(
                update(WebhookEvent).where(WebhookEvent.id.in_([e.id for e in events])).values(redriven_at=now)
            )
        if coupons:
            session.execute(update(Coupon).where(Coupon.id.in_([c.id for c in coupons])).values(redriven_at=now))
        revocations = session.execute(
            select(Referral.tenant_id, Referral.id)
            .where(
                Referral.state.in_([Referral.REVOKED, Referral.REJECTED]),
                Referral.tenant_id.in_(installed),
                exists().where(
                    and_(
                        Coupon.referral_id == Referral.id,
                        or_(Coupon.state == Coupon.ISSUED, Coupon.state == Coupon.RESERVED),
                    )
                ),
            )
            .limit(1000)
        ).all()
        email_tenants = session.scalars(
            select(OutboundEmail.tenant_id)
            .where(
                OutboundEmail.status == OutboundEmail.PENDING,
                OutboundEmail.next_attempt_at <= utcnow(),
                OutboundEmail.created_at < cutoff,
            )
            .distinct()
        ).all()
        hold_tenants = session.scalars(
            select(Referral.tenant_id)
            .where(
                Referral.state == Referral.HELD,
                Referral.hold_until.is_not(None),
                Referral.hold_until <= utcnow(),
            )
            .distinct()
        ).all()
        # Friends who asked to be reminded before their code expires (plugin/referrals/reminders.py).
        reminder_tenants = tenants_with_reminders(session, installed)
        # Outbound webhooks: first tries whose task was lost, and every retry whose backoff ended.
        deliveries = merchant_webhooks.due_deliveries(session, cutoff)
        counts["webhook_messages_pruned"] = merchant_webhooks.prune(session)
        gift_card_tenants = session.scalars(
            select(Coupon.tenant_id)
            .where(
                Coupon.state == Coupon.ISSUED,
                Coupon.saleor_gift_card_id.is_not(None),
                Coupon.tenant_id.in_(installed),
            )
            .distinct()
        ).all()
        shop_name_tenants = tenants.claim_shop_name_refreshes(session)
    for tenant_id, event_id in events:
        process_event.enqueue(tenant_id, event_id)
    for tenant_id, coupon_id in coupons:
        issue_coupon.enqueue(tenant_id, coupon_id)
    for tenant_id, referral_id in revocations:
        revoke_referral.enqueue(tenant_id, referral_id)
    for tenant_id in email_tenants:
        send_pending_emails.enqueue(tenant_id)
    for tenant_id in hold_tenants:
        release_holds.enqueue(tenant_id)
    for tenant_id in reminder_tenants:
        send_friend_reminders.enqueue(tenant_id)
    for tenant_id, delivery_id in deliveries:
        deliver_webhook.enqueue(tenant_id, delivery_id)
    due_gift_card_tenants = [
        t
        for t in gift_card_tenants
        if time.monotonic() - _gift_cards_refreshed.get(t, -GIFT_CARD_REFRESH_SECONDS) >= GIFT_CARD_REFRESH_SECONDS
    ]
    for tenant_id in due_gift_card_tenants:
        _gift_cards_refreshed[tenant_id] = time.monotonic()
        refresh_gift_card_balances.enqueue(tenant_id)
    for tenant_id in shop_name_tenants:
        refresh_shop_name.enqueue(tenant_id)
    counts.update(
        events=len(events),
        coupons=len(coupons),
        revocations=len(revocations),
        email_tenants=len(email_tenants),
        hold_tenants=len(hold_tenants),
        webhook_deliveries=len(deliveries),
        gift_card_tenants=len(due_gift_card_tenants),
        shop_name_tenants=len(shop_name_tenants),
        reminder_tenants=len(reminder_tenants),
    )
    if any(counts.values()):
        log.info("sweep re-drove %s", counts)
    return counts
