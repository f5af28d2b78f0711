"""What the outbound webhooks promise: the event types, how long a delivery is retried, when an
endpoint's failures open its circuit. Shared by the outbox, delivery and the endpoints' settings."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, has_app_context

from plugin.config import Config

EVENT_TYPES = (
    "advocate.enrolled",
    "referral.attributed",
    "referral.approved",
    "referral.held",
    "referral.rejected",
    "referral.revoked",
    "reward.issued",
    "reward.revoked",
    "reward.redeemed",
)
# After this many failures in a row an endpoint gets one delivery at a time (a probe) until it
# answers again, so a dead receiver does not hold every worker in its timeouts.
CIRCUIT_AFTER = 3
NOT_SENT_DISABLED = "Not sent: the endpoint is disabled."


def settings() -> Config:
    """The running app's Config, or the defaults outside an app (a script)."""
    return current_app.config["SETTINGS"] if has_app_context() else Config()


def retry_window() -> timedelta:
    return timedelta(hours=settings().webhook_retry_hours)


def isoformat(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
