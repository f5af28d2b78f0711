"""Who gets the share widget after checkout, and what it shows them.

An order shows the widget only once our database says so: the order reached
the merchant's trigger status, was not cancelled or fully refunded, and its
buyer is an advocate outside the A/B holdout. Everything else (unknown shop,
unknown or unpaid order, disabled program) gets the same empty answer, so the
endpoint cannot be used to find out which orders exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from sqlalchemy import select, update

from plugin import links
from plugin.db import session_scope, utcnow
from plugin.i18n import messages, pick_locale
from plugin.mail.compose import shop_name
from plugin.program.experiments import HOLDOUT
from plugin.program.offers import offer_texts
from plugin.program.settings import Program, load_program
from plugin.referrals.models import Advocate, OrderRecord
from plugin.rewards.ladder import Goal, next_goal_for, progress_text, rewarded_friends
from plugin.tenants.models import Tenant

EMPTY = {"show": False}

# Order of the buttons in the widget; "native" (the OS share sheet) and "copy" are handled in the browser.
SHARE_CHANNELS = ("native", "whatsapp", "telegram", "facebook", "x", "email", "sms", "copy", "qr")
MAX_PARAM_LENGTH = 512


@dataclass
class Sharer:
    """An advocate allowed to see the widget for one of their orders."""

    tenant: Tenant
    program: Program
    advocate: Advocate
    order: OrderRecord
    rewarded: int = 0  # friends who earned the advocate a reward so far
    goal: Goal | None = None  # their next tier or milestone


def _usable_param(value, max_length: int = MAX_PARAM_LENGTH) -> str | None:
    if not isinstance(value, str) or not value or len(value) > max_length or not value.isprintable():
        return None
    return value.strip() or None


def order_counts_for_sharing(order: OrderRecord) -> bool:
    refunded_fully = order.total_refunded > 0 and order.total - order.total_refunded <= 0
    return bool(order.reached_trigger_at) and not order.cancelled and not refunded_fully and bool(order.email)


@dataclass
class Storefront:
    """A shop that has the app installed, and its program."""

    tenant: Tenant
    program: Program


def find_sharer(saleor_api_url: str | None, order_id: str | None) -> tuple[Storefront | None, Sharer | None]:
    """(the shop, the advocate behind this paid order); either may be None.

    The shop comes back even when the order does not count, so the caller can
    answer every order of a shop with the same CORS headers.
    """
    api_url, order_id = _usable_param(saleor_api_url), _usable_param(order_id, 255)
    if api_url is None:
        return None, None
    with session_scope() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.saleor_api_url == api_url))
    if tenant is None or not tenant.is_installed:
        return None, None
    with session_scope(tenant.id) as session:
        program = load_program(session, tenant.id)
        shop = Storefront(tenant, program)
        if not program.enabled or order_id is None:
            return shop, None
        order = session.scalar(select(OrderRecord).where(OrderRecord.saleor_order_id == order_id))
        if order is None or not order_counts_for_sharing(order):
            return shop, None
        advocate = session.scalar(select(Advocate).where(Advocate.email == order.email))
        if advocate is None or advocate.erased_at is not None or advocate.variant == HOLDOUT:
            return shop, None
        rewarded = rewarded_friends(session, advocate.id)
        goal = next_goal_for(program.rewards_for(advocate.channel_slug), rewarded)
        return shop, Sharer(tenant, program, advocate, order, rewarded, goal)


def _listed_origins(program: Program | None) -> list[str]:
    return [o.rstrip("/") for o in (program.storefront_origins if program else [])]


def allowed_origin(program: Program | None, origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value: any origin until the merchant lists theirs."""
    configured = _listed_origins(program)
    if not configured:
        return "*"
    if origin and origin.rstrip("/") in configured:
        return origin
    return None


def note_widget_seen(shop: Storefront | None, origin: str | None) -> None:
    """The first widget request from an origin the merchant listed ticks the setup checklist's
    "widget seen on your storefront" (one UPDATE, then never again for the shop)."""
    if shop is None or shop.tenant.widget_seen_at is not None or not origin:
        return
    if origin.rstrip("/") not in _listed_origins(shop.program):
        return
    with session_scope() as session:
        session.execute(
            update(Tenant)
            .where(Tenant.id == shop.tenant.id, Tenant.widget_seen_at.is_(None))
            .values(widget_seen_at=utcnow(), widget_seen_origin=origin.rstrip("/")[:255])
        )


def widget_locale(program: Program, requested: str | None, order: OrderRecord) -> str:
    return pick_locale(
        _usable_param(requested, 16), order.locale, allowed=program.languages, default=program.default_locale
    )


def _merchant_texts(program: Program, locale: str) -> tuple[str | None, dict[str, str]]:
    """The merchant's title and texts for this locale (settings: `widget.title.<locale>`,
    `widget.texts.<key>` as one text for every language or as `{<locale>: text}`)."""
    widget = program.widget
    title = widget.title.get(locale)
    texts = {}
    for key, value in widget.texts.items():
        text = value.get(locale) if isinstance(value, dict) else value
        if isinstance(text, str) and text.strip():
            texts[str(key).removeprefix("widget.")] = text
    return (str(title) if title else None), texts


def _format(template: str, **params) -> str:
    try:
        return str(template).format(**params)
    except (KeyError, IndexError, ValueError, AttributeError):
        return str(template)


def _joined(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def social_posts(code: str, share_text: str, hashtags: tuple[str, ...] | list[str] = ()) -> dict[str, dict[str, str]]:
    """For X, Facebook, Telegram and WhatsApp: the URL that opens the post (`url`) and the post as the
    advocate first sees it (`text`). Each network takes the merchant's hashtags its own way: X as its
    `hashtags` parameter (it adds them after the text), Facebook's sharer one `hashtag` (the first),
    Telegram and WhatsApp in the text."""
    tags = " ".join(f"#{tag}" for tag in hashtags)

    def link(channel: str) -> str:
        return links.share_link(code, channel)

    x = {"text": share_text, "url": link("x")}
    if hashtags:
        x["hashtags"] = ",".join(hashtags)
    facebook = {"u": link("facebook")}
    if hashtags:
        facebook["hashtag"] = f"#{hashtags[0]}"
    telegram_text = _joined(share_text, tags)
    whatsapp_text = _joined(share_text, link("whatsapp"), tags)
    return {
        "whatsapp": {
            "url": "https://wa.me/?" + urlencode({"text": whatsapp_text}, quote_via=quote),
            "text": whatsapp_text,
        },
        "telegram": {
            "url": "https://t.me/share/url?"
            + urlencode({"url": link("telegram"), "text": telegram_text}, quote_via=quote),
            "text": _joined(link("telegram"), telegram_text),  # Telegram puts the link first
        },
        "facebook": {
            "url": "https://www.facebook.com/sharer/sharer.php?" + urlencode(facebook, quote_via=quote),
            "text": _joined(facebook.get("hashtag", ""), link("facebook")),  # the sharer takes no text of ours
        },
        "x": {
            "url": "https://x.com/intent/tweet?" + urlencode(x, quote_via=quote),
            "text": _joined(share_text, tags, link("x")),
        },
    }


def share_targets(
    code: str, share_text: str, subject: str, hashtags: tuple[str, ...] | list[str] = ()
) -> dict[str, str]:
    """Where each button leads, with the link carrying that channel's UTM parameters."""

    def link(channel: str) -> str:
        return links.share_link(code, channel)

    def text_with(channel: str) -> str:
        return f"{share_text} {link(channel)}"

    return {
        **{channel: post["url"] for channel, post in social_posts(code, share_text, hashtags).items()},
        "email": "mailto:?" + urlencode({"subject": subject, "body": text_with("email")}, quote_via=quote),
        "sms": "sms:?&" + urlencode({"body": text_with("sms")}, quote_via=quote),
        "native": link("native"),
        "copy": link("copy"),
    }


def widget_payload(sharer: Sharer, locale: str) -> dict:
    """The widget's whole answer: never more about the customer than their first name."""
    advocate, program = sharer.advocate, sharer.program
    shop = shop_name(sharer.tenant, locale)
    first_name = (advocate.first_name or "").strip()
    params = dict(shop=shop, first_name=first_name, **offer_texts(program, advocate, locale, sharer.rewarded))
    title, overrides = _merchant_texts(program, locale)
    # Singular catalog texts, which a merchant may replace; a text about a count belongs here already
    # rendered with tn(locale, key, n), so the widget never chooses a plural form itself.
    texts = {key.removeprefix("widget."): value for key, value in messages(locale, "widget.").items()}
    texts.update(overrides)
    texts = {key: _format(value, **params) for key, value in texts.items()}
    texts["title"] = _format(title, **params) if title else texts.get("title", "")
    if not first_name:
        texts["greeting"] = texts.get("greeting_anonymous", "")
    texts.pop("greeting_anonymous", None)
    share_text = texts.pop("share_text", "")
    subject = texts.pop("email_subject", shop)
    targets = share_targets(advocate.code, share_text, subject, program.widget.hashtags)
    return {
        "show": True,
        "firstName": first_name,
        "link": links.share_link(advocate.code),
        "offer": texts.get("offer", ""),
        "texts": texts,
        "qr": f"{links.app_url()}/r/{quote(advocate.code)}/qr.svg",
        "shareText": share_text,
        "share": targets,
        "locale": locale,
        # "2 more friends to unlock $15": the plural form is chosen here, for the advocate's count.
        "progress": progress_text(sharer.goal, advocate.currency, locale),
        "goal": [sharer.rewarded, sharer.goal.at] if sharer.goal else None,
    }
