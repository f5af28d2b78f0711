"""Live preview of the program's e-mails with the settings being edited (nothing is stored or sent)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from email.utils import formataddr

from flask import current_app

from plugin.coupons.models import Coupon
from plugin.db import utcnow
from plugin.i18n import pick_locale, t
from plugin.mail import compose
from plugin.mail.outbox import render, sender_headers
from plugin.mail.transport import header_text
from plugin.program.settings import Program
from plugin.referrals import links

KINDS = {"invite": None, "reward.referrer": Coupon.REFERRER_REWARD, "reward.friend": Coupon.FRIEND_REWARD,
         "offer": Coupon.FRIEND_OFFER}
SAMPLE_CODE = {Coupon.REFERRER_REWARD: "THANKS-EXAMPLE", Coupon.FRIEND_REWARD: "WELCOME-EXAMPLE",
               Coupon.FRIEND_OFFER: "FRIEND-EXAMPLE"}


def render_preview(program: Program, kind: str, locale: str, *, shop: str, channel: str | None,
                   currency: str) -> dict:
    """{"subject", "text", "html"} of one e-mail kind, as a customer would get it."""
    locale = pick_locale(locale, allowed=program["languages"], default=program["default_locale"])
    rewards = program.rewards_for(channel or "")
    sample_link = links.share_link("ANNA7K2", "email")
    portal = f"{links.app_url()}/portal/example"
    if kind == "invite":
        params = dict(shop=shop, first_name="Anna", friend_offer=program.friend_offer.describe(currency, locale),
                      referrer_reward=rewards.referrer.describe(currency, locale))
        context = {
            "locale": locale,
            "subject": compose._subject(program, "invite", locale, **params),
            "heading": t(locale, "email.invite.heading", **params),
            "intro": compose._intro(program, "invite", **params),
            "body": t(locale, "email.invite.body", **params),
            "code": None, "details": [],
            "links": [{"label": t(locale, "email.invite.cta"), "url": sample_link},
                      {"label": t(locale, "email.portal_link"), "url": portal}],
            "footer": t(locale, "email.footer", shop=shop),
        }
    else:
        purpose = KINDS[kind]
        spec = {Coupon.REFERRER_REWARD: rewards.referrer, Coupon.FRIEND_REWARD: rewards.friend,
                Coupon.FRIEND_OFFER: program.friend_offer}[purpose]
        expiry = program["friend_offer"].get("expiry_days", 14) if purpose == Coupon.FRIEND_OFFER else rewards.expiry_days
        coupon = Coupon(purpose=purpose, code=SAMPLE_CODE[purpose], value_type=spec.type, value=Decimal(spec.value),
                        currency=currency, min_order=rewards.min_order, expires_at=utcnow() + timedelta(days=int(expiry)))
        first_name = {Coupon.REFERRER_REWARD: "Anna", Coupon.FRIEND_REWARD: "Ben", Coupon.FRIEND_OFFER: ""}[purpose]
        params = dict(shop=shop, value=compose.coupon_value(coupon, locale), first_name=first_name, advocate="Anna")
        email_links = []
        store = links.storefront_link(program, code=coupon.code, referral_code="ANNA7K2")
        if store:
            email_links.append({"label": t(locale, "email.shop_link"), "url": store})
        if purpose == Coupon.REFERRER_REWARD:
            email_links += [{"label": t(locale, "email.share_link"), "url": sample_link},
                            {"label": t(locale, "email.portal_link"), "url": portal}]
        context = {
            "locale": locale,
            "subject": compose._subject(program, kind, locale, **params),
            "heading": t(locale, f"email.{kind}.heading", **params).replace(", !", "!"),
            "intro": compose._intro(program, kind, **params),
            "body": t(locale, f"email.{kind}.body", **params),
            "code": coupon.code,
            "code_label": t(locale, "email.code"),
            "details": compose._coupon_details(coupon, locale),
            "links": email_links,
            "footer": t(locale, "email.footer", shop=shop),
        }
    text, html = render(context)
    (name, address), reply_to = sender_headers(current_app.config["SETTINGS"], program["email"].get("sender") or "",
                                                program["email"].get("reply_to") or "")
    return {"kind": kind, "locale": locale, "subject": header_text(context["subject"]), "text": text, "html": html,
            "sender": formataddr((name, address)), "reply_to": reply_to or None}
