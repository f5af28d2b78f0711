"""What an advocate sees on their portal page, and the "e-mail me a new link" flow.

Every query is scoped to the advocate from the signed link (inside that
tenant's session), so the page cannot show anything of another advocate.
Friends appear only as masked e-mails, their status in the softened words of
`plugin.fraud.explain.advocate_message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from plugin import links
from plugin.analytics.models import FunnelEvent
from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.fraud.explain import advocate_message
from plugin.i18n import pick_locale, t
from plugin.identity import mask_email, normalize_email
from plugin.mail.compose import coupon_value, queue_portal_link, shop_name
from plugin.program.offers import offer_texts
from plugin.program.settings import load_program
from plugin.referrals.claims import usable_email
from plugin.referrals.models import Advocate, FriendClaim, Referral
from plugin.rewards.ladder import Goal, next_goal_for, progress_text, rewarded_friends
from plugin.tenants.models import Tenant

MAX_ROWS = 200
REWARD_STATUS = {
    Coupon.RESERVED: "pending",
    Coupon.ISSUED: "issued",
    Coupon.USED: "used",
    Coupon.REVOKED: "revoked",
    Coupon.CANCELLED: "revoked",
}


@dataclass
class FriendRow:
    friend: str  # masked e-mail
    date: datetime
    status: str  # softened: never an internal signal (see plugin.fraud.explain)


@dataclass
class RewardRow:
    value: str
    status: str
    status_key: str
    code: str | None
    valid_until: datetime | None
    date: datetime


@dataclass
class PortalPage:
    locale: str
    shop: str
    first_name: str
    code: str
    link: str
    qr: str
    offer: dict
    clicks: int
    claims: int
    joined: int  # friends whose order came through the link (all of them; `friends` lists the latest)
    friends: list[FriendRow]
    rewards: list[RewardRow]
    rewarded: int = 0  # friends whose referral earned a reward and stays approved
    goal: Goal | None = None  # the next tier or milestone (None: none left, or the program has none)
    progress: str = ""  # the goal in words, "2 more friends to unlock $15"
    has_ladder: bool = False  # the program has tiers or milestones (else there is nothing to show)


def _friend_row(referral: Referral, locale: str) -> FriendRow:
    return FriendRow(
        mask_email(referral.friend_contact_email or referral.friend_email),
        referral.created_at,
        advocate_message(referral, locale),
    )


def portal_page(tenant_id: int, advocate_id: int, requested_locale: str | None) -> PortalPage | None:
    with session_scope(tenant_id) as session:
        advocate = session.get(Advocate, advocate_id)
        tenant = session.get(Tenant, tenant_id)
        if advocate is None or tenant is None or advocate.tenant_id != tenant_id or advocate.erased_at is not None:
            return None
        program = load_program(session, tenant_id)
        locale = pick_locale(
            requested_locale, advocate.locale, allowed=program.languages, default=program.default_locale
        )
        clicks = (
            session.scalar(
                select(func.count(FunnelEvent.id)).where(
                    FunnelEvent.advocate_id == advocate.id, FunnelEvent.kind == FunnelEvent.CLICK
                )
            )
            or 0
        )
        claims = session.scalar(select(func.count(FriendClaim.id)).where(FriendClaim.advocate_id == advocate.id)) or 0
        joined = session.scalar(select(func.count(Referral.id)).where(Referral.advocate_id == advocate.id)) or 0
        referrals = session.scalars(
            select(Referral)
            .where(Referral.advocate_id == advocate.id)
            .order_by(Referral.created_at.desc())
            .limit(MAX_ROWS)
        ).all()
        coupons = session.scalars(
            select(Coupon)
            .where(
                Coupon.advocate_id == advocate.id, Coupon.purpose.in_((Coupon.REFERRER_REWARD, Coupon.MILESTONE_REWARD))
            )
            .order_by(Coupon.created_at.desc(), Coupon.id.desc())
            .limit(MAX_ROWS)
        ).all()
        rewarded = rewarded_friends(session, advocate.id)
        channel_rewards = program.rewards_for(advocate.channel_slug)
        goal = next_goal_for(channel_rewards, rewarded)
        rewards = []
        for coupon in coupons:
            status = REWARD_STATUS.get(coupon.state, "pending")
            rewards.append(
                RewardRow(
                    value=coupon_value(coupon, locale),
                    status=t(locale, f"portal.reward.{status}"),
                    status_key=status,
                    code=coupon.code if status in ("issued", "used") else None,
                    valid_until=coupon.expires_at if status == "issued" else None,
                    date=coupon.created_at,
                )
            )
        return PortalPage(
            locale=locale,
            shop=shop_name(tenant, locale),
            first_name=advocate.first_name or "",
            code=advocate.code,
            link=links.share_link(advocate.code),
            qr=f"{links.app_url()}/r/{advocate.code}/qr.svg",
            offer=offer_texts(program, advocate, locale, rewarded),
            clicks=clicks,
            claims=claims,
            joined=joined,
            friends=[_friend_row(r, locale) for r in referrals],
            rewards=rewards,
            rewarded=rewarded,
            goal=goal,
            progress=progress_text(goal, advocate.currency, locale),
            has_ladder=bool(channel_rewards.tiers or channel_rewards.milestones),
        )


def send_new_links(email: str, window_key: str) -> int:
    """Queue an e-mail with a fresh portal link to every advocate with this address.

    The caller answers the same whatever this finds. `window_key` (e.g. the hour)
    makes repeated requests within it queue nothing new.
    """
    email = usable_email(email)
    if email is None:
        return 0
    normalized = normalize_email(email)
    with session_scope() as session:
        matches = session.execute(
            select(Advocate.tenant_id, Advocate.id).where(Advocate.email == normalized, Advocate.erased_at.is_(None))
        ).all()
    for tenant_id, advocate_id in matches:
        with session_scope(tenant_id) as session:
            queue_portal_link(
                session,
                session.get(Tenant, tenant_id),
                session.get(Advocate, advocate_id),
                load_program(session, tenant_id),
                window_key,
            )
    return len(matches)
