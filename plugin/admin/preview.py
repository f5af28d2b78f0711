"""Live previews with the settings being edited (nothing is stored or sent): the program's e-mails,
and what the share widget says to an advocate with a given number of rewarded friends."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from email.utils import formataddr

from flask import current_app

from plugin import links
from plugin.coupons.models import Coupon
from plugin.db import utcnow
from plugin.i18n import pick_locale
from plugin.mail import compose
from plugin.mail.delivery import sender_headers
from plugin.mail.transport import header_text
from plugin.program.settings import COMMISSION, Program
from plugin.referrals.models import Advocate, OrderRecord
from plugin.rewards.commission import commission_amount
from plugin.rewards.ladder import next_goal_for
from plugin.tenants.models import Tenant
from plugin.ui.share import Sharer, social_posts, widget_payload

KINDS = {
    "invite": None,
    "reward.referrer": Coupon.REFERRER_REWARD,
    "reward.friend": Coupon.FRIEND_REWARD,
    "offer": Coupon.FRIEND_OFFER,
}
SAMPLE_ORDER = Decimal("80")  # the friend's order subtotal a commission preview is computed from
SAMPLE_CODE = {
    Coupon.REFERRER_REWARD: "THANKS-EXAMPLE",
    Coupon.FRIEND_REWARD: "WELCOME-EXAMPLE",
    Coupon.FRIEND_OFFER: "FRIEND-EXAMPLE",
}


def render_preview(
    program: Program, kind: str, locale: str, *, shop: str | None, channel: str | None, currency: str
) -> dict:
    """{"subject", "text", "html"} of one e-mail kind, as a customer would get it (`shop`: Saleor's name
    of the shop, None when it has none yet)."""
    locale = pick_locale(locale, allowed=program.languages, default=program.default_locale)
    shop_name, shop = shop, compose.shop_label(shop, locale)
    rewards = program.rewards_for(channel or "")
    sample_link = links.share_link("ANNA7K2", "email")
    portal = f"{links.app_url()}/portal/example"
    if kind == "invite":
        email = compose.invite_email(
            program,
            locale,
            shop=shop,
            first_name="Anna",
            share_url=sample_link,
            portal_url=portal,
            offer={
                "friend_offer": program.friend_offer.describe(currency, locale),
                "referrer_reward": rewards.referrer.describe(currency, locale),
            },
        )
    else:
        purpose = KINDS[kind]
        spec = {
            Coupon.REFERRER_REWARD: rewards.referrer,
            Coupon.FRIEND_REWARD: rewards.friend,
            Coupon.FRIEND_OFFER: program.friend_offer,
        }[purpose]
        expiry = program.offer.expiry_days if purpose == Coupon.FRIEND_OFFER else rewards.expiry_days
        coupon = Coupon(
            purpose=purpose,
            code=SAMPLE_CODE[purpose],
            value_type=spec.type,
            value=Decimal(spec.value),
            currency=currency,
            min_order=Decimal(0) if spec.is_gift_card else rewards.min_order,
            expires_at=utcnow() + timedelta(days=int(expiry)),
        )
        if spec.type == COMMISSION:  # as if the friend's order subtotal (net) were SAMPLE_ORDER
            coupon.rate, coupon.base_amount = spec.value, SAMPLE_ORDER
            coupon.value = commission_amount(spec.value, spec.cap or Decimal(0), SAMPLE_ORDER, currency)
        thanks = purpose == Coupon.REFERRER_REWARD
        email = compose.coupon_email(
            program,
            coupon,
            locale,
            shop=shop,
            advocate_name="Anna",
            recipient_name={Coupon.REFERRER_REWARD: "Anna", Coupon.FRIEND_REWARD: "Ben", Coupon.FRIEND_OFFER: ""}[
                purpose
            ],
            store_url=links.storefront_link(program, code=coupon.code, referral_code="ANNA7K2"),
            share_url=sample_link if thanks else None,
            portal_url=portal if thanks else None,
        )
    (name, address), reply_to = sender_headers(
        current_app.config["SETTINGS"], program.email.sender, program.email.reply_to, shop_name
    )
    return {
        "kind": kind,
        "locale": locale,
        "subject": header_text(email.subject),
        "text": email.text,
        "html": email.html,
        "sender": formataddr((name, address)),
        "reply_to": reply_to or None,
    }


def widget_preview(
    program: Program, tenant: Tenant, locale: str, *, channel: str | None, currency: str, rewarded: int
) -> dict:
    """The widget's texts for an example advocate ("Anna") of `channel` with `rewarded` friends
    rewarded so far: the offer line (the next friend's tier), the explanation and the progress
    toward the next tier or milestone, exactly as /api/widget/state would send them; and per social
    network the post the share button opens (its text with the hashtags, and its URL)."""
    locale = pick_locale(locale, allowed=program.languages, default=program.default_locale)
    advocate = Advocate(
        code="ANNA7K2", first_name="Anna", channel_slug=channel or "", currency=currency, variant=None, locale=locale
    )
    goal = next_goal_for(program.rewards_for(channel or ""), rewarded)
    sharer = Sharer(tenant, program, advocate, OrderRecord(), rewarded, goal)
    payload = widget_payload(sharer, locale)
    texts = payload["texts"]
    return {
        "locale": locale,
        "title": texts.get("title", ""),
        "greeting": texts.get("greeting", ""),
        "offer": payload["offer"],
        "intro": texts.get("intro", ""),
        "progress": payload["progress"],
        "goal": payload["goal"],
        "rewarded": rewarded,
        "share": social_posts(advocate.code, payload["shareText"], program.widget.hashtags),
    }
