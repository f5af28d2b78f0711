"""Coupon work in the background: each task loads ids and calls `plugin.coupons.service`."""

from __future__ import annotations

from plugin.coupons import service
from plugin.tasks import task


@task("issue_coupon")
def issue_coupon(tenant_id: int, coupon_id: int) -> str:
    return service.issue_coupon(tenant_id, coupon_id)


# Queued by the task that approved the referral, it runs right after it in the same worker; the
# reserved coupons are stored, so the sweeper issues them if that worker dies first.
@task("issue_rewards", same_worker=True)
def issue_rewards(tenant_id: int, referral_id: int) -> str:
    return service.issue_rewards(tenant_id, referral_id)


@task("revoke_referral")
def revoke_referral(tenant_id: int, referral_id: int) -> str:
    return service.take_back_rewards(tenant_id, referral_id)


@task("refresh_gift_card_balances")
def refresh_gift_card_balances(tenant_id: int) -> int:
    return service.refresh_gift_card_balances(tenant_id)
