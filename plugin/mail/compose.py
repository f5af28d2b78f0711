"""What we write to advocates and friends. Everything is rendered once, when queued."""
from __future__ import annotations

from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.i18n import money, pick_locale, t
from plugin.mail.outbox import queue_email
from plugin.mail.tasks import send_pending_emails
from plugin.program.settings import Program, RewardSpec
from plugin.referrals import links
from plugin.referrals.models import Advocate
from plugin.referrals.offers import offer_texts
from plugin.tenants.models import Tenant


def shop_name(tenant: Tenant) -> str:
    return tenant.shop_name or tenant.domain or "our shop"


def _subject(program: Program, key: str, locale: str, **params) -> str:
    custom = (program["email"].get("subjects") or {}).get(key)
    if custom:
        try:
            return str(custom).format(**params)
        except (KeyError, IndexError, ValueError):
            return str(custom)
    return t(locale, f"email.{key}.subject", **params)


def _intro(program: Program, key: str, **params) -> str:
    """The merchant's own opening paragraph for this e-mail (settings `email.intros`), if any."""
    custom = (program["email"].get("intros") or {}).get(key)
    if not custom:
        return ""
    try:
        return str(custom).format(**params)
    except (KeyError, IndexError, ValueError):
        return str(custom)


def _coupon_details(coupon: Coupon, locale: str) -> list[str]:
    details = []
    if coupon.expires_at:
        details.append(t(locale, "email.expires", date=coupon.expires_at.date().isoformat()))
    if coupon.min_order and coupon.min_order > 0:
        details.append(t(locale, "email.min_order", amount=money(coupon.min_order, coupon.currency, locale)))
    return details


def coupon_value(coupon: Coupon, locale: str) -> str:
    return RewardSpec(coupon.value_type, coupon.value).describe(coupon.currency, locale)


def queue_invite(session: Session, tenant: Tenant, advocate: Advocate, program: Program) -> None:
    locale = pick_locale(advocate.locale, allowed=program["languages"], default=program["default_locale"])
    shop = shop_name(tenant)
    params = dict(shop=shop, first_name=advocate.first_name or "", **offer_texts(program, advocate, locale))
    context = {
        "locale": locale,
        "subject": _subject(program, "invite", locale, **params),
        "heading": t(locale, "email.invite.heading", **params).replace(" !", "!").replace(", !", "!"),
        "body": t(locale, "email.invite.body", **params),
        "intro": _intro(program, "invite", **params),
        "code": None,
        "details": [],
        "links": [
            {"label": t(locale, "email.invite.cta"), "url": links.share_link(advocate.code, "email")},
            {"label": t(locale, "email.portal_link"), "url": links.portal_url(tenant.id, advocate.id)},
        ],
        "footer": t(locale, "email.footer", shop=shop),
    }
    if queue_email(session, tenant_id=tenant.id, dedup_key=f"invite:{advocate.id}", kind="invite",
                   to=advocate.contact_email, context=context):
        send_pending_emails.after_commit(session, tenant.id)


def queue_coupon_email(session: Session, tenant: Tenant, coupon: Coupon, program: Program,
                       *, recipient_name: str = "", advocate: Advocate | None = None,
                       locale: str | None = None) -> None:
    locale = pick_locale(locale, allowed=program["languages"], default=program["default_locale"])
    shop = shop_name(tenant)
    value = coupon_value(coupon, locale)
    key = {
        Coupon.REFERRER_REWARD: "reward.referrer",
        Coupon.FRIEND_REWARD: "reward.friend",
        Coupon.FRIEND_OFFER: "offer",
    }[coupon.purpose]
    params = dict(shop=shop, value=value, first_name=recipient_name,
                  advocate=(advocate.first_name if advocate and advocate.first_name else t(locale, "email.a_friend")))
    email_links = []
    store = links.storefront_link(program, code=coupon.code,
                                  referral_code=advocate.code if advocate and coupon.purpose == Coupon.FRIEND_OFFER else None)
    if store:
        email_links.append({"label": t(locale, "email.shop_link"), "url": store})
    if coupon.purpose == Coupon.REFERRER_REWARD and advocate is not None:
        email_links.append({"label": t(locale, "email.share_link"), "url": links.share_link(advocate.code, "email")})
        email_links.append({"label": t(locale, "email.portal_link"), "url": links.portal_url(tenant.id, advocate.id)})
    context = {
        "locale": locale,
        "subject": _subject(program, key, locale, **params),
        "heading": t(locale, f"email.{key}.heading", **params).replace(", !", "!"),
        "body": t(locale, f"email.{key}.body", **params),
        "intro": _intro(program, key, **params),
        "code": coupon.code,
        "code_label": t(locale, "email.code"),
        "details": _coupon_details(coupon, locale),
        "links": email_links,
        "footer": t(locale, "email.footer", shop=shop),
    }
    if queue_email(session, tenant_id=tenant.id, dedup_key=f"coupon:{coupon.id}", kind=coupon.purpose,
                   to=coupon.recipient_email, context=context, coupon_id=coupon.id):
        send_pending_emails.after_commit(session, tenant.id)
