"""What we write to advocates and friends: each e-mail's words and links, rendered once, when queued.

`invite_email`, `coupon_email`, `portal_link_email`, `friend_reminder_email` and
`advocate_update_email` build a message from plain values (the Dashboard's preview calls them with
sample values); the `queue_*` functions fill in the real ones and hand the result to the outbox.
Non-transactional ones (plugin.mail.models.MARKETING_KINDS) carry an unsubscribe link; the others
say in their footer why the reader receives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from plugin import links
from plugin.coupons.models import Coupon
from plugin.i18n import money, percent, pick_locale, t, tn
from plugin.mail.outbox import queue_email, withdraw
from plugin.program.offers import offer_texts
from plugin.program.settings import COMMISSION, FREE_SHIPPING, GIFT_CARD_KINDS, STORE_CREDIT, Program, RewardSpec
from plugin.referrals.models import Advocate, FriendClaim, Referral
from plugin.rewards.ladder import progress_text
from plugin.tenants.models import Tenant

_env = Environment(
    loader=PackageLoader("plugin.mail", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)

# The catalog key of each coupon's e-mail (also the key of the merchant's own subject and intro).
COUPON_EMAIL_KEYS = {
    Coupon.REFERRER_REWARD: "reward.referrer",
    Coupon.FRIEND_REWARD: "reward.friend",
    Coupon.FRIEND_OFFER: "offer",
    Coupon.MILESTONE_REWARD: "reward.referrer",
}  # the merchant's subject/intro for advocate rewards


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def render(context: dict) -> tuple[str, str]:
    return _env.get_template("base.txt").render(**context), _env.get_template("base.html").render(**context)


def shop_label(name: str | None, locale: str) -> str:
    """The shop as shoppers read it: Saleor's `shop.name`, else a neutral "our shop" in their language.
    Never the API host: that names a server, not a shop."""
    return name or t(locale, "shop.fallback")


def shop_name(tenant: Tenant, locale: str) -> str:
    return shop_label(tenant.shop_name, locale)


def _subject(program: Program, key: str, locale: str, **params) -> str:
    custom = program.email.subjects.get(key)
    if custom:
        try:
            return str(custom).format(**params)
        except (KeyError, IndexError, ValueError):
            return str(custom)
    return t(locale, f"email.{key}.subject", **params)


def _intro(program: Program, key: str, **params) -> str:
    """The merchant's own opening paragraph for this e-mail (settings `email.intros`), if any."""
    custom = program.email.intros.get(key)
    if not custom:
        return ""
    try:
        return str(custom).format(**params)
    except (KeyError, IndexError, ValueError):
        return str(custom)


def _coupon_details(coupon: Coupon, locale: str) -> list[str]:
    details = []
    if coupon.value_type == COMMISSION and coupon.rate is not None and coupon.base_amount is not None:
        details.append(
            t(
                locale,
                "email.commission.detail",
                percent=percent(coupon.rate, locale),
                base=money(coupon.base_amount, coupon.currency, locale),
            )
        )
    if coupon.value_type in GIFT_CARD_KINDS:
        details.append(t(locale, "email.gift_card.how"))
    if coupon.expires_at:
        details.append(t(locale, "email.expires", date=coupon.expires_at.date().isoformat()))
    if coupon.min_order and coupon.min_order > 0:
        details.append(t(locale, "email.min_order", amount=money(coupon.min_order, coupon.currency, locale)))
    return details


def coupon_value(coupon: Coupon, locale: str) -> str:
    """What the coupon gives, in words: a commission is paid as store credit of its amount."""
    kind = STORE_CREDIT if coupon.value_type == COMMISSION else coupon.value_type
    return RewardSpec(kind, coupon.value).describe(coupon.currency, locale)


def _reward_texts(coupon: Coupon, key: str, locale: str, friend_rank: int | None, **params) -> dict[str, str]:
    """Subject (when not the merchant's), heading and body of a reward e-mail for the coupon's kind."""
    if coupon.purpose == Coupon.MILESTONE_REWARD:
        return {
            "subject": tn(locale, "email.reward.milestone.subject", friend_rank or 0, shop=params["shop"]),
            "heading": t(locale, "email.reward.milestone.heading", **params),
            "body": t(locale, "email.reward.milestone.body", **params),
        }
    body_key = f"email.{key}.body"
    subject = None
    if key in ("reward.referrer", "reward.friend"):
        if coupon.value_type == FREE_SHIPPING:
            body_key += ".free_shipping"
        elif coupon.value_type in GIFT_CARD_KINDS:
            body_key += ".gift_card"
            if key == "reward.friend":
                subject = t(locale, "email.reward.gift_card.subject", **params)
    return {
        "subject": subject,
        "heading": t(locale, f"email.{key}.heading", **params),
        "body": t(locale, body_key, **params),
    }


def _email(
    program: Program,
    key: str,
    locale: str,
    params: dict,
    *,
    code: str | None = None,
    details: list[str] | None = None,
    email_links: list[tuple[str, str]] = (),
    texts: dict[str, str | None] | None = None,
    code_label: str | None = None,
    progress: str = "",
    why: str | None = None,
    unsubscribe_url: str | None = None,
) -> Email:
    """The one shape of all our e-mails: heading, the merchant's intro, body, code, links, footer.
    `texts` replaces the catalog's subject (unless the merchant set one), heading and body. The
    footer says why the reader receives the e-mail (`why`, default: they ordered at the shop); a
    non-transactional e-mail (plugin.mail.models.MARKETING_KINDS) also carries `unsubscribe_url`."""
    texts = texts or {}
    custom_subject = program.email.subjects.get(key)
    context = {
        "locale": locale,
        "subject": texts["subject"]
        if texts.get("subject") and not custom_subject
        else _subject(program, key, locale, **params),
        "heading": (texts.get("heading") or t(locale, f"email.{key}.heading", **params))
        .replace(", !", "!")
        .replace(" !", "!"),
        "intro": _intro(program, key, **params),
        "body": texts.get("body") or t(locale, f"email.{key}.body", **params),
        "code": code,
        "code_label": code_label or t(locale, "email.code"),
        "details": details or [],
        "progress": progress,
        "links": [{"label": label, "url": url} for label, url in email_links],
        "footer": why or t(locale, "email.footer", shop=params["shop"]),
        "unsubscribe": t(locale, "email.unsubscribe") if unsubscribe_url else "",
        "unsubscribe_url": unsubscribe_url or "",
    }
    text, html = render(context)
    return Email(context["subject"], text, html)


def invite_email(
    program: Program,
    locale: str,
    *,
    shop: str,
    first_name: str,
    offer: dict[str, str],
    share_url: str,
    portal_url: str,
    unsubscribe_url: str | None = None,
) -> Email:
    params = dict(shop=shop, first_name=first_name, **offer)
    return _email(
        program,
        "invite",
        locale,
        params,
        email_links=[(t(locale, "email.invite.cta"), share_url), (t(locale, "email.portal_link"), portal_url)],
        unsubscribe_url=unsubscribe_url,
    )


def coupon_email(
    program: Program,
    coupon: Coupon,
    locale: str,
    *,
    shop: str,
    recipient_name: str,
    advocate_name: str | None,
    store_url: str | None,
    share_url: str | None = None,
    portal_url: str | None = None,
    progress: str = "",
    friend_rank: int | None = None,
) -> Email:
    params = dict(
        shop=shop,
        value=coupon_value(coupon, locale),
        first_name=recipient_name,
        advocate=advocate_name or t(locale, "email.a_friend"),
    )
    email_links = [(t(locale, "email.shop_link"), store_url)] if store_url else []
    if share_url:
        email_links.append((t(locale, "email.share_link"), share_url))
    if portal_url:
        email_links.append((t(locale, "email.portal_link"), portal_url))
    key = COUPON_EMAIL_KEYS[coupon.purpose]
    gift_card = coupon.value_type in GIFT_CARD_KINDS
    return _email(
        program,
        key,
        locale,
        params,
        code=coupon.code,
        details=_coupon_details(coupon, locale),
        email_links=email_links,
        texts=_reward_texts(coupon, key, locale, friend_rank, **params),
        code_label=t(locale, "email.gift_card.code_label") if gift_card else None,
        progress=progress,
        why=t(locale, f"email.why.{key}", **params),
    )


def portal_link_email(program: Program, locale: str, *, shop: str, portal_url: str) -> Email:
    return _email(
        program,
        "portal",
        locale,
        dict(shop=shop),
        email_links=[(t(locale, "email.portal_link"), portal_url)],
        why=t(locale, "email.why.portal", shop=shop),
    )


def friend_reminder_email(
    program: Program,
    coupon: Coupon,
    locale: str,
    *,
    shop: str,
    advocate_name: str | None,
    days_left: int,
    store_url: str | None,
    unsubscribe_url: str | None,
) -> Email:
    """The friend's one reminder, N days before their code expires (plugin.referrals.reminders)."""
    params = dict(
        shop=shop,
        value=coupon_value(coupon, locale),
        advocate=advocate_name or t(locale, "email.a_friend"),
        date=coupon.expires_at.date().isoformat() if coupon.expires_at else "",
    )
    return _email(
        program,
        "reminder",
        locale,
        params,
        code=coupon.code,
        details=_coupon_details(coupon, locale),
        email_links=[(t(locale, "email.shop_link"), store_url)] if store_url else [],
        texts={"subject": tn(locale, "email.reminder.subject", days_left, **params)},
        why=t(locale, "email.why.reminder", **params),
        unsubscribe_url=unsubscribe_url,
    )


# The advocate's updates about a friend's order (plugin.referrals.updates decides which goes out when).
HELD, HELD_FOR_REVIEW, COUNTED = "held", "held_review", "counted"


def advocate_update_email(
    program: Program,
    update: str,
    locale: str,
    *,
    shop: str,
    first_name: str,
    friend: str,
    until: str = "",
    progress: str = "",
    portal_url: str | None = None,
    unsubscribe_url: str | None = None,
) -> Email:
    params = dict(shop=shop, first_name=first_name, friend=friend or t(locale, "email.a_friend"), date=until)
    return _email(
        program,
        f"update.{update}",
        locale,
        params,
        email_links=[(t(locale, "email.portal_link"), portal_url)] if portal_url else [],
        progress=progress,
        why=t(locale, "email.why.update", **params),
        unsubscribe_url=unsubscribe_url,
    )


def queue_invite(session: Session, tenant: Tenant, advocate: Advocate, program: Program) -> None:
    locale = pick_locale(advocate.locale, allowed=program.languages, default=program.default_locale)
    email = invite_email(
        program,
        locale,
        shop=shop_name(tenant, locale),
        first_name=advocate.first_name or "",
        offer=offer_texts(program, advocate, locale),
        share_url=links.share_link(advocate.code, "email"),
        portal_url=links.portal_url(tenant.id, advocate.id),
        unsubscribe_url=links.unsubscribe_url(tenant.id, advocate.contact_email, locale),
    )
    queue_email(
        session,
        tenant_id=tenant.id,
        dedup_key=f"invite:{advocate.id}",
        kind="invite",
        to=advocate.contact_email,
        subject=email.subject,
        text=email.text,
        html=email.html,
    )


def queue_coupon_email(
    session: Session,
    tenant: Tenant,
    coupon: Coupon,
    program: Program,
    *,
    recipient_name: str = "",
    advocate: Advocate | None = None,
    locale: str | None = None,
    goal=None,
    friend_rank: int | None = None,
) -> None:
    """The e-mail carrying a reward's code; `goal` (plugin.rewards.ladder.Goal) adds the advocate's
    progress toward their next tier or milestone, `friend_rank` names the friend a milestone counts."""
    locale = pick_locale(locale, allowed=program.languages, default=program.default_locale)
    offer = coupon.purpose == Coupon.FRIEND_OFFER
    thanks = coupon.purpose in (Coupon.REFERRER_REWARD, Coupon.MILESTONE_REWARD) and advocate is not None
    email = coupon_email(
        program,
        coupon,
        locale,
        shop=shop_name(tenant, locale),
        recipient_name=recipient_name,
        advocate_name=advocate.first_name if advocate else None,
        store_url=links.storefront_link(
            program, code=coupon.code, referral_code=advocate.code if advocate and offer else None
        ),
        share_url=links.share_link(advocate.code, "email") if thanks else None,
        portal_url=links.portal_url(tenant.id, advocate.id) if thanks else None,
        progress=progress_text(goal, coupon.currency, locale),
        friend_rank=friend_rank,
    )
    queue_email(
        session,
        tenant_id=tenant.id,
        dedup_key=f"coupon:{coupon.id}",
        kind=coupon.purpose,
        to=coupon.recipient_email,
        subject=email.subject,
        text=email.text,
        html=email.html,
        coupon_id=coupon.id,
    )


def queue_portal_link(session: Session, tenant: Tenant, advocate: Advocate, program: Program, window_key: str) -> None:
    """A fresh portal link; one per advocate within `window_key` (e.g. the hour)."""
    locale = pick_locale(advocate.locale, allowed=program.languages, default=program.default_locale)
    email = portal_link_email(
        program, locale, shop=shop_name(tenant, locale), portal_url=links.portal_url(tenant.id, advocate.id)
    )
    queue_email(
        session,
        tenant_id=tenant.id,
        dedup_key=f"portal-link:{advocate.id}:{window_key}",
        kind="portal_link",
        to=advocate.contact_email,
        subject=email.subject,
        text=email.text,
        html=email.html,
    )


def queue_friend_reminder(
    session: Session,
    tenant: Tenant,
    program: Program,
    claim: FriendClaim,
    coupon: Coupon,
    advocate: Advocate | None,
    days_left: int,
) -> None:
    """The friend's reminder, in the language they claimed in; once per claim (its key)."""
    locale = pick_locale(claim.locale, allowed=program.languages, default=program.default_locale)
    email = friend_reminder_email(
        program,
        coupon,
        locale,
        shop=shop_name(tenant, locale),
        advocate_name=advocate.first_name if advocate else None,
        days_left=days_left,
        store_url=links.storefront_link(program, code=coupon.code, referral_code=advocate.code if advocate else None),
        unsubscribe_url=links.unsubscribe_url(tenant.id, claim.contact_email, locale),
    )
    queue_email(
        session,
        tenant_id=tenant.id,
        dedup_key=f"reminder:{claim.id}",
        kind="friend_reminder",
        to=claim.contact_email,
        subject=email.subject,
        text=email.text,
        html=email.html,
    )


def update_key(update: str, referral_id: int) -> str:
    return f"update:{update}:{referral_id}"


def queue_advocate_update(
    session: Session,
    tenant: Tenant,
    program: Program,
    advocate: Advocate,
    referral: Referral,
    update: str,
    *,
    goal=None,
    not_before: datetime | None = None,
) -> None:
    """One update per referral and kind (held, held for review, counted), in the advocate's language."""
    locale = pick_locale(advocate.locale, allowed=program.languages, default=program.default_locale)
    email = advocate_update_email(
        program,
        update,
        locale,
        shop=shop_name(tenant, locale),
        first_name=advocate.first_name or "",
        friend=referral.friend_first_name or "",
        until=referral.hold_until.date().isoformat() if referral.hold_until else "",
        progress=progress_text(goal, referral.currency, locale),
        portal_url=links.portal_url(tenant.id, advocate.id),
        unsubscribe_url=links.unsubscribe_url(tenant.id, advocate.contact_email, locale),
    )
    queue_email(
        session,
        tenant_id=tenant.id,
        dedup_key=update_key(update, referral.id),
        kind="advocate_update",
        to=advocate.contact_email,
        subject=email.subject,
        text=email.text,
        html=email.html,
        not_before=not_before,
    )


def withdraw_counted_update(session: Session, tenant_id: int, referral_id: int) -> bool:
    """The advocate's reward e-mail is going out: a "counted, on its way" update not sent yet is moot."""
    return withdraw(session, tenant_id, update_key(COUNTED, referral_id))
