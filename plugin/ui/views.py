"""Public pages and endpoints: the widget script and its API, the share landing page, the advocate portal.

Thin: who may see what lives in `plugin.ui.share`, `plugin.referrals.claims`
and `plugin.ui.portal`; pictures in `plugin.ui.images`.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from plugin import links
from plugin.analytics.models import FunnelEvent
from plugin.coupons.models import Coupon
from plugin.db import session_scope, utcnow
from plugin.http import json_error, parse_json
from plugin.i18n import LOCALES, pick_locale, t, tn, tn_html
from plugin.identity import mask_email, normalize_email
from plugin.mail import suppression
from plugin.mail.compose import shop_name
from plugin.mail.models import EmailSuppression
from plugin.program.offers import offer_texts
from plugin.program.settings import Program, load_program
from plugin.ratelimit import digest, limiter, retry_after
from plugin.referrals import claims
from plugin.referrals.models import Advocate
from plugin.tenants.models import Tenant
from plugin.ui import images, portal, share, visitor
from plugin.ui.assets import widget_bundle
from plugin.ui.pages import error_page

widget_bp = Blueprint("widget", __name__)
landing_bp = Blueprint("landing", __name__, template_folder="templates")
portal_bp = Blueprint("portal", __name__, template_folder="templates")
unsubscribe_bp = Blueprint("unsubscribe", __name__, template_folder="templates")

LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "pl": "Polski", "lv": "Latviešu"}
OG_LOCALES = {"en": "en_US", "ru": "ru_RU", "pl": "pl_PL", "lv": "lv_LV"}
STATE_LIMIT, SHARE_LIMIT, CLAIM_LIMIT = 120, 60, 10  # per client address per minute
LINK_LIMIT = 5  # portal links per client address per 10 minutes
LINK_PER_EMAIL = CLAIM_RESENDS_PER_EMAIL = 3  # per e-mail address (and advocate) per hour
MISS_LIMIT = 60  # unknown share codes per client address per 10 minutes
UNSUBSCRIBE_LIMIT = 30  # unsubscribe pages and POSTs per client address per minute
CRAWLERS = re.compile(
    r"bot|crawl|spider|facebookexternalhit|whatsapp|telegram|slack|discord|embedly|preview", re.IGNORECASE
)


def _etagged(response: Response, etag: str, cache_control: str) -> Response:
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache_control
    return response.make_conditional(request)


# -- the widget -----------------------------------------------------------------------------------


def _cors(response: Response, origin_value: str | None) -> Response:
    if origin_value:
        response.headers["Access-Control-Allow-Origin"] = origin_value
    response.headers["Vary"] = "Origin"
    return response


@widget_bp.get("/widget.js")
def widget_js():
    bundle = widget_bundle()
    response = Response(bundle.body, mimetype="text/javascript")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return _etagged(response, bundle.etag, "public, max-age=86400, stale-while-revalidate=604800")


@widget_bp.route("/api/widget/state", methods=["OPTIONS"])
@widget_bp.route("/api/widget/share", methods=["OPTIONS"])
def widget_preflight():
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return _cors(response, request.headers.get("Origin") or "*")


def _too_many(limit) -> Response:
    response, status = json_error(429, "TOO_MANY_REQUESTS", "Too many requests; retry later.")
    response.status_code = status
    response.headers["Retry-After"] = retry_after(limit)
    return _cors(response, "*")


@widget_bp.get("/api/widget/state")
@limiter.limit(f"{STATE_LIMIT} per minute", on_breach=_too_many)
def widget_state():
    shop, sharer = share.find_sharer(request.args.get("saleorApiUrl"), request.args.get("orderId"))
    origin = request.headers.get("Origin")
    allowed = share.allowed_origin(shop.program if shop else None, origin)
    share.note_widget_seen(shop, origin)
    payload = share.EMPTY
    if sharer is not None and (allowed or not origin):
        payload = share.widget_payload(
            sharer, share.widget_locale(sharer.program, request.args.get("locale"), sharer.order)
        )
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    etag = hashlib.sha256(f"{allowed}|{body}".encode()).hexdigest()[:24]
    response = Response(body, mimetype="application/json")
    # Not shown yet: revalidate on every poll (payment may land any second). Shown: a few minutes.
    cache = "private, max-age=300" if payload["show"] else "no-cache"
    response = _etagged(_cors(response, allowed), etag, cache)
    if payload["show"] and response.status_code == 200:
        with session_scope(sharer.tenant.id) as session:
            claims.record_funnel_event(session, FunnelEvent.WIDGET_VIEW, sharer.advocate)
    return response


@widget_bp.post("/api/widget/share")
@limiter.limit(f"{SHARE_LIMIT} per minute", on_breach=_too_many)
def widget_share():
    """Counts one share by channel. Answers the same for unknown orders."""
    try:
        body = parse_json(request.get_data(cache=False, as_text=False)[:4096] or b"null")
    except ValueError:
        body = None
    channel = body.get("channel") if isinstance(body, dict) else None
    if channel not in share.SHARE_CHANNELS:
        response, status = json_error(400, "INVALID_SHARE", "Expected JSON {saleorApiUrl, orderId, channel}.")
        response.status_code = status
        return _cors(response, "*")
    shop, sharer = share.find_sharer(body.get("saleorApiUrl"), body.get("orderId"))
    origin = request.headers.get("Origin")
    allowed = share.allowed_origin(shop.program if shop else None, origin)
    if sharer is not None and (allowed or not origin):
        with session_scope(sharer.tenant.id) as session:
            claims.record_funnel_event(session, FunnelEvent.SHARE, sharer.advocate, share_channel=channel)
    return _cors(Response(status=204), allowed)


# -- the landing page -----------------------------------------------------------------------------


class Landing:
    """One share code's page: the shop, the advocate and the program, loaded once per request."""

    def __init__(self, tenant: Tenant, program: Program, advocate: Advocate):
        self.tenant, self.program, self.advocate = tenant, program, advocate
        self.locale = pick_locale(
            request.args.get("lang") or request.form.get("lang"),
            request.accept_languages.best_match(program.languages) if request.accept_languages else None,
            advocate.locale,
            allowed=program.languages,
            default=program.default_locale,
        )
        self.shop = shop_name(tenant, self.locale)
        self.offer = offer_texts(program, advocate, self.locale)

    @classmethod
    def load(cls, code: str) -> Landing | None:
        found = claims.find_advocate(code)
        if found is None:
            return None
        tenant_id, advocate_id = found
        with session_scope(tenant_id) as session:
            tenant = session.get(Tenant, tenant_id)
            advocate = session.get(Advocate, advocate_id)
            program = load_program(session, tenant_id)
        if tenant is None or not tenant.is_installed or not claims.offers_available(program, advocate):
            return None
        return cls(tenant, program, advocate)

    def t(self, key: str, **params) -> str:
        return t(self.locale, key, **params)

    @property
    def title(self) -> str:
        first_name = (self.advocate.first_name or "").strip()
        if first_name:
            return self.t("landing.title", first_name=first_name, shop=self.shop, **self.offer)
        return self.t("landing.title_anonymous", shop=self.shop, **self.offer)

    @property
    def card_key(self) -> str:
        return images.card_key(
            str(self.tenant.id),
            str(self.advocate.id),
            self.title,
            self.offer["friend_offer"],
            self.shop,
            self.t("landing.og_cta"),
        )

    def context(self, visit: visitor.Visit, **extra) -> dict:
        code = self.advocate.code
        languages = [(c, LANGUAGE_NAMES.get(c, c)) for c in self.program.languages if c in LANGUAGE_NAMES]
        fields = dict(email="", remind=False, error=None)
        fields.update(extra)
        return dict(
            locale=self.locale,
            t=self.t,
            page_title=self.title,
            shop=self.shop,
            friend_offer=self.offer["friend_offer"],
            description=self.t("landing.description", shop=self.shop, **self.offer),
            expiry=tn(self.locale, "landing.expiry", self.program.offer.expiry_days),
            reminder_label=tn(self.locale, "landing.remind", self.program.messages.friend_reminder_days),
            share_url=links.share_link(code),
            og_image=f"{links.app_url()}/r/{code}/og.png?lang={self.locale}&v={self.card_key[:12]}",
            og_locale=OG_LOCALES.get(self.locale, "en_US"),
            languages=languages,
            form_action=url_for("landing.claim", code=code, lang=self.locale),
            csrf=visitor.form_token(visit, f"claim:{code}"),
            **fields,
        )


def _page(html: str, status: int = 200, *, referrer_policy: str = "strict-origin-when-cross-origin") -> Response:
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = referrer_policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _slow_down_page(locale: str):
    return error_page(
        429,
        title=t(locale, "landing.error.slow_down_title"),
        message=t(locale, "landing.error.slow_down"),
        locale=locale,
    )


def _landing_not_found():
    locale = _requested_locale()
    return error_page(
        404, title=t(locale, "landing.not_found.title"), message=t(locale, "landing.not_found.body"), locale=locale
    )


# Unknown share codes are counted per client (only the 404s), so the code space cannot be walked.
landing_misses = limiter.shared_limit(
    f"{MISS_LIMIT} per 10 minutes",
    scope="landing_miss",
    deduct_when=lambda response: response.status_code == 404,
    on_breach=lambda _limit: _slow_down_page(_requested_locale()),
)


@landing_bp.get("/r/<code>")
@landing_misses
def landing(code: str):
    page = Landing.load(code)
    if page is None:
        return _landing_not_found()
    visit = visitor.read_visit()
    is_person = not CRAWLERS.search(request.headers.get("User-Agent", ""))
    if is_person and visit.remember_click(page.advocate.code, visitor.referrer_host(), utcnow()):
        source = request.args.get("utm_source")
        with session_scope(page.tenant.id) as session:
            claims.record_funnel_event(
                session,
                FunnelEvent.CLICK,
                page.advocate,
                share_channel=source if source in share.SHARE_CHANNELS else None,
            )
    html = render_template("ui/landing.html", **page.context(visit))
    return visitor.save_visit(_page(html), visit)


CLAIM_ERRORS = {
    claims.ClaimRefused.INVALID_EMAIL: ("landing.error.email", 400),
    claims.ClaimRefused.OWN_EMAIL: ("landing.error.own", 403),
    claims.ClaimRefused.DAILY_CAP: ("landing.error.cap", 429),
}


def _claimed_redirect(page: Landing) -> Response:
    """Every accepted claim gets this same answer, new e-mail or known: the page it leads to shows
    the code only to the browser that made the claim."""
    return redirect(url_for("landing.claimed", code=page.advocate.code, lang=page.locale), 303)


def _claim_resend_key() -> str:
    code = (request.view_args or {}).get("code") or ""
    return digest("claim-resend", code.upper(), normalize_email((request.form.get("email") or "").strip()[:320]))


def _claim_accepted_without_resend(_limit):
    page = Landing.load((request.view_args or {}).get("code"))
    return _claimed_redirect(page) if page is not None else _landing_not_found()


@landing_bp.post("/r/<code>")
@limiter.limit(f"{CLAIM_LIMIT} per minute", on_breach=lambda _limit: _slow_down_page(_requested_locale()))
@limiter.limit(
    f"{CLAIM_RESENDS_PER_EMAIL} per hour",
    key_func=_claim_resend_key,
    deduct_when=lambda _response: bool(g.get("claim_resent")),
    on_breach=_claim_accepted_without_resend,
)
@landing_misses
def claim(code: str):
    page = Landing.load(code)
    if page is None:
        return _landing_not_found()
    visit = visitor.read_visit()
    email = (request.form.get("email") or "").strip()[:320]
    remind = request.form.get("remind") == "yes"

    def refuse(message_key: str, status: int):
        html = render_template(
            "ui/landing.html", **page.context(visit, email=email, remind=remind, error=page.t(message_key))
        )
        return visitor.save_visit(_page(html, status), visit)

    if not visitor.form_token_valid(visit, f"claim:{page.advocate.code}", request.form.get("csrf")):
        return refuse("landing.error.form", 400)
    referrer, clicked_at = visit.click_of(page.advocate.code)
    try:
        with session_scope(page.tenant.id) as session:
            outcome = claims.claim_offer(
                session,
                page.program,
                page.advocate.id,
                email=email,
                remind=remind,
                landing_referrer=referrer,
                clicked_at=clicked_at,
                locale=page.locale,
            )
    except claims.ClaimRefused as refused:
        return refuse(*CLAIM_ERRORS[refused.reason])
    if outcome.created:
        visit.remember_claim(page.advocate.code, outcome.claim_id)
    else:  # a repeat claim, from any browser: the code goes to the address again, never to the page
        g.claim_resent = True
        claims.resend_offer_email(page.tenant.id, outcome.coupon_id)
    claims.issue_now(page.tenant.id, outcome.coupon_id)
    return visitor.save_visit(_claimed_redirect(page), visit)


@landing_bp.get("/r/<code>/claimed")
@landing_misses
def claimed(code: str):
    page = Landing.load(code)
    if page is None:
        return _landing_not_found()
    visit = visitor.read_visit()
    mine = claims.claim_of_browser(page.tenant.id, page.advocate.id, visit.claim_of(page.advocate.code))
    context = dict(
        locale=page.locale,
        t=page.t,
        shop=page.shop,
        friend_offer=page.offer["friend_offer"],
        page_title=page.t("landing.claimed.title", shop=page.shop),
        mine=mine is not None,
    )
    if mine is not None:
        coupon = mine.coupon
        context.update(
            issued=coupon.state in (Coupon.ISSUED, Coupon.USED),
            code=coupon.code,
            email=mine.contact_email,
            expires=coupon.expires_at.date().isoformat() if coupon.expires_at else None,
            storefront_url=links.storefront_link(page.program, code=coupon.code, referral_code=page.advocate.code),
        )
    html = render_template("ui/claimed.html", **context)
    return visitor.save_visit(_page(html, referrer_policy="no-referrer"), visit)


@landing_bp.get("/r/<code>/qr.svg")
@landing_misses
def landing_qr(code: str):
    page = Landing.load(code)
    if page is None:
        return _landing_not_found()
    url = links.share_link(page.advocate.code, "qr")
    response = Response(images.qr_svg(url), mimetype="image/svg+xml")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return _etagged(response, hashlib.sha256(url.encode()).hexdigest()[:24], "public, max-age=86400")


@landing_bp.get("/r/<code>/og.png")
@landing_misses
def landing_card(code: str):
    page = Landing.load(code)
    if page is None:
        return _landing_not_found()
    key = page.card_key
    if request.if_none_match.contains(key):
        return _etagged(Response(status=304), key, "public, max-age=86400")
    png = images.cached_card(
        key, lambda: images.draw_card(page.title, page.offer["friend_offer"], page.shop, page.t("landing.og_cta"))
    )
    response = Response(png, mimetype="image/png")
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return _etagged(response, key, "public, max-age=86400")


# -- the advocate portal --------------------------------------------------------------------------


def _link_form(visit: visitor.Visit, locale: str, *, sent: bool = False, status: int = 410, error: str | None = None):
    html = render_template(
        "ui/portal_link.html",
        locale=locale,
        t=lambda key, **p: t(locale, key, **p),
        page_title=t(locale, "portal.expired.title"),
        sent=sent,
        error=error,
        form_action=url_for("portal.portal_new_link"),
        csrf=visitor.form_token(visit, "portal-link"),
    )
    return visitor.save_visit(_page(html, status, referrer_policy="no-referrer"), visit)


def _requested_locale() -> str:
    return pick_locale(
        request.values.get("lang"), request.accept_languages.best_match(LOCALES) if request.accept_languages else None
    )


@portal_bp.get("/portal/<token>")
def portal_home(token: str):
    found = links.read_portal_token(token) if len(token) < 1024 else None
    page = portal.portal_page(*found, request.args.get("lang")) if found else None
    if page is None:
        return _link_form(visitor.read_visit(), _requested_locale())
    return _page(portal_html(page), referrer_policy="no-referrer")


def portal_html(page: portal.PortalPage) -> str:
    locale = page.locale
    languages = [(c, LANGUAGE_NAMES[c]) for c in LANGUAGE_NAMES]
    return render_template(
        "ui/portal.html",
        page=page,
        locale=locale,
        t=lambda key, **p: t(locale, key, **p),
        tn_html=lambda key, n, **p: tn_html(locale, key, n, **p),
        page_title=t(locale, "portal.title", shop=page.shop),
        languages=languages,
    )


def _portal_link_email_key() -> str:
    return digest("portal-link", normalize_email((request.form.get("email") or "").strip()[:320]))


def _link_slow_down(_limit):
    locale = _requested_locale()
    return _link_form(visitor.read_visit(), locale, status=429, error=t(locale, "landing.error.slow_down"))


def _link_sent_anyway(_limit):
    """Past the per-address limit nothing is sent, but the answer is the usual one."""
    return _link_form(visitor.read_visit(), _requested_locale(), sent=True, status=200)


@portal_bp.post("/portal/link")
@limiter.limit(f"{LINK_LIMIT} per 10 minutes", on_breach=_link_slow_down)
@limiter.limit(f"{LINK_PER_EMAIL} per hour", key_func=_portal_link_email_key, on_breach=_link_sent_anyway)
def portal_new_link():
    visit = visitor.read_visit()
    locale = _requested_locale()
    if not visitor.form_token_valid(visit, "portal-link", request.form.get("csrf")):
        return _link_form(visit, locale, status=400, error=t(locale, "landing.error.form"))
    email = (request.form.get("email") or "").strip()[:320]
    hour = datetime.now(UTC).strftime("%Y%m%d%H")
    portal.send_new_links(email, hour)
    return _link_form(visit, locale, sent=True, status=200)


# -- unsubscribe (RFC 8058) -------------------------------------------------------------------------
# GET shows a page with a button and changes nothing (mail scanners and link previews fetch every
# link); POST unsubscribes: the button, or a mail client's one-click POST with the form body
# "List-Unsubscribe=One-Click". No login, no cookie, no redirect: the encrypted token is the proof.


def _unsubscribe_target(token: str) -> tuple[Tenant, str] | None:
    found = links.read_unsubscribe_token(token)
    if found is None:
        return None
    tenant_id, email = found
    with session_scope(tenant_id) as session:
        tenant = session.get(Tenant, tenant_id)
    return (tenant, email) if tenant is not None else None


def _unsubscribe_not_found():
    locale = _requested_locale()
    return error_page(
        404, title=t(locale, "unsubscribe.invalid.title"), message=t(locale, "unsubscribe.invalid.body"), locale=locale
    )


def _unsubscribe_page(token: str, tenant: Tenant, email: str, *, done: bool) -> Response:
    locale = _requested_locale()
    html = render_template(
        "ui/unsubscribe.html",
        locale=locale,
        t=lambda key, **p: t(locale, key, **p),
        page_title=t(locale, "unsubscribe.done_title" if done else "unsubscribe.title"),
        shop=shop_name(tenant, locale),
        email=mask_email(email),
        done=done,
        form_action=url_for("unsubscribe.unsubscribe_post", token=token, lang=locale),
    )
    return _page(html, referrer_policy="no-referrer")


_unsubscribe_limit = limiter.shared_limit(
    f"{UNSUBSCRIBE_LIMIT} per minute",
    scope="unsubscribe",
    on_breach=lambda _limit: _slow_down_page(_requested_locale()),
)


@unsubscribe_bp.get("/unsubscribe/<token>")
@_unsubscribe_limit
def unsubscribe_page(token: str):
    target = _unsubscribe_target(token)
    if target is None:
        return _unsubscribe_not_found()
    return _unsubscribe_page(token, *target, done=False)


@unsubscribe_bp.post("/unsubscribe/<token>")
@_unsubscribe_limit
def unsubscribe_post(token: str):
    target = _unsubscribe_target(token)
    if target is None:
        return _unsubscribe_not_found()
    tenant, email = target
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    suppression.unsubscribe(tenant.id, email, EmailSuppression.ONE_CLICK if one_click else EmailSuppression.LINK)
    return _unsubscribe_page(token, tenant, email, done=True)
