"""Every table, imported in one place for Alembic and `create_all`."""

from plugin.analytics.models import FunnelDaily, FunnelEvent
from plugin.coupons.models import Coupon
from plugin.db import Base
from plugin.mail.models import EmailSuppression, OutboundEmail
from plugin.merchant_webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from plugin.program.models import ProgramSettings, SettingsChange
from plugin.referrals.models import Advocate, FriendClaim, LedgerEntry, OrderRecord, Referral
from plugin.tenants.models import Tenant
from plugin.webhooks.models import WebhookEvent

__all__ = [
    "Base",
    "Tenant",
    "ProgramSettings",
    "SettingsChange",
    "WebhookEvent",
    "Advocate",
    "FriendClaim",
    "OrderRecord",
    "Referral",
    "LedgerEntry",
    "Coupon",
    "OutboundEmail",
    "EmailSuppression",
    "FunnelEvent",
    "FunnelDaily",
    "WebhookEndpoint",
    "WebhookMessage",
    "WebhookDelivery",
    "WebhookAttempt",
]
