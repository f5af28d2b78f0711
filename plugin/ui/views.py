"""Public pages and endpoints: the widget script and its API, the share landing page, the advocate portal.

Thin: who may see what lives in `plugin.ui.share`, `plugin.referrals.claims`
and `plugin.ui.portal`; pictures in `plugin.ui.images`.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone

from flask import Blueprint, Response, render_template, request, url_for

from plugin.analytics.models import FunnelEvent
from plugin.coupons.models import Coupon
from plugin.db import session_scope, utcnow
from plugin.http import json_error
from plugin.i18n import LOCALES, pick_locale, t, tn, tn_html
from plugin.mail.compose import shop_name
from plugin.program.settings import Program, load_program
from plugin.ratelimit import client_ip, hit
from plugin.referrals import claims, links
from plugin.referrals.models import Advocate
from plugin.referrals.offers import offer_texts
from plugin.tenants.models import Tenant
from plugin.ui import images, portal, share, visitor
from plugin.ui.assets import widget_bundle
from plugin.ui.pages import error_page

widget_bp = Blueprint("widget", __name__)
landing_bp = Blueprint("landing", __name__, template_folder="templates")
portal_bp = Blueprint("portal", __name__, template_folder="templates")
BLUEPRINTS = [widget_bp, landing_bp, portal_bp]

LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "pl": "Polski", "lv": "Latviešu"}
OG_LOCALES = {"en": "en_US", "ru": "ru_RU", "pl": "pl_PL", "lv": "lv_LV"}
STATE_LIMIT, SHARE_LIMIT, WINDOW = 120, 60, 60  # per client IP per minute
CLAIM_LIMIT, LINK_LIMIT, LINK_PER_EMAIL = 10, 5, 3
MISS_LIMIT, MISS_WINDOW = 60, 600  # unknown share codes per client IP per 10 minutes
CRAWLERS = re.compile(r"bot|crawl|spider|facebookexternalhit|whatsapp|telegram|slack|discord|embedly|preview",
                      re.IGNORECASE)


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


def _too_many(verdict) -> Response:
    response, status = json_error(429, "TOO_MANY_REQUESTS", "Too many requests; retry later.")
    response.status_code = status
    response.headers.update(verdict.headers())
    return _cors(response, "*")


@widget_bp.get("/api/widget/state")
def widget_state():
    verdict = hit("widget_state", client_ip(), limit=STATE_LIMIT, window=WINDOW)
    if not verdict.allowed:
        return _too_many(verdict)
    program, sharer = share.find_sharer(request.args.get("saleorApiUrl"), request.args.get("orderId"))
    origin = request.headers.get("Origin")
    allowed = share.allowed_origin(program, origin)
    payload = share.EMPTY
    if sharer is not None and (allowed or not origin):
        payload = share.widget_payload(sharer, share.widget_locale(sharer.program, request.args.get("locale"),
                                                                    sharer.order))
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
def widget_share():
    """Counts one share by channel. Answers the same for unknown orders."""
    verdict = hit("widget_share", client_ip(), limit=SHARE_LIMIT, window=WINDOW)
    if not verdict.allowed:
        return _too_many(verdict)
    try:
        body = json.loads(request.get_data(cache=False, as_text=False)[:4096] or b"null")
    except ValueError:
        body = None
    channel = body.get("channel") if isinstance(body, dict) else None
    if channel not in share.SHARE_CHANNELS:
        response, status = json_error(400, "INVALID_SHARE", "Expected JSON {saleorApiUrl, orderId, channel}.")
        response.status_code = status
        return _cors(response, "*")
    program, sharer = share.find_sharer(body.get("saleorApiUrl"), body.get("orderId"))
    origin = request.headers.get("Origin")
    allowed = share.allowed_origin(program, origin)
    if sharer is not None and (allowed or not origin):
        with session_scope(sharer.tenant.id) as session:
            claims.record_funnel_event(session, FunnelEvent.SHARE, sharer.advocate, share_channel=channel)
    return _cors(Response(status=204), allowed)


# -- the landing page -----------------------------------------------------------------------------

class Landing:
    """One share code's page: the shop, the advocate and the program, loaded once per request."""

    def __init__(self, tenant: Tenant, program: Program, advocate: Advocate):
        self.tenant, self.program, self.advocate = tenant, program, advocate
        self.shop = shop_name(tenant)
        self.locale = pick_locale(
            request.args.get("lang") or request.form.get("lang"),
            request.accept_languages.best_match(program["languages"]) if request.accept_languages else None,
            advocate.locale, allowed=program["languages"], default=program["default_locale"])
        self.offer = offer_texts(program, advocate, self.locale)

    @classmethod
    def load(cls, code: str) -> "Landing | None":
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
        return images.card_key(str(self.tenant.id), str(self.advocate.id), self.title, self.offer["friend_offer"],
                               self.shop, self.t("landing.og_cta"))

    def context(self, visit: visitor.Visit, **extra) -> dict:
        code = self.advocate.code
        languages = [(c, LANGUAGE_NAMES.get(c, c)) for c in self.program["languages"] if c in LANGUAGE_NAMES]
        fields = dict(email="", consent=False, error=None)
        fields.update(extra)
        return dict(
            locale=self.locale, t=self.t, page_title=self.title, shop=self.shop,
            friend_offer=self.offer["friend_offer"],
            description=self.t("landing.description", shop=self.shop, **self.offer),
            expiry=tn(self.locale, "landing.expiry", int(self.program["friend_offer"].get("expiry_days") or 14)),
            share_url=links.share_link(code),
            og_image=f"{links.app_url()}/r/{code}/og.png?lang={self.locale}&v={self.card_key[:12]}",
            og_locale=OG_LOCALES.get(self.locale, "en_US"), languages=languages,
            form_action=url_for("landing.claim", code=code, lang=self.locale), csrf=visitor.form_token(visit, f"claim:{code}"),
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
    return error_page(429, title=t(locale, "landing.error.slow_down_title"),
                      message=t(locale, "landing.error.slow_down"), locale=locale)


def _landing_not_found(*, limited: bool = False):
    """The friendly 404; misses are counted per client so the code space cannot be walked."""
    locale = _requested_locale()
    if limited or not hit("landing_miss", client_ip(), limit=MISS_LIMIT, window=MISS_WINDOW).allowed:
        return _slow_down_page(locale)
    return error_page(404, title=t(locale, "landing.not_found.title"), message=t(locale, "landing.not_found.body"),
                      locale=locale)


@landing_bp.get("/r/<code>")
def landing(code: str):
    page = Landing.load(code)
    if page is None:
        return _landing_not_found()
    visit = visitor.read_visit()
    is_person = not CRAWLERS.search(request.headers.get("User-Agent", ""))
    if is_person and visit.remember_click(page.advocate.code, visitor.referrer_host(), utcnow()):
        source = request.args.get("utm_source")
        with session_scope(page.tenant.id) as session:
            claims.record_funnel_event(session, FunnelEvent.CLICK, page.advocate,
                                       share_channel=source if source in share.SHARE_CHANNELS else None)
    html = render_template("ui/landing.html", **page.context(visit))
    return visitor.save_visit(_page(html), visit)


CLAIM_ERRORS = {
    claims.ClaimRefused.INVALID_EMAIL: ("landing.error.email", 400),
    claims.ClaimRefused.NO_CONSENT: ("landing.error.consent", 400),
    claims.ClaimRefused.OWN_EMAIL: ("landing.error.own", 403),
    claims.ClaimRefused.DAILY_CAP: ("landing.error.cap", 429),
}


@landing_bp.post("/r/<code>")
def claim(code: str):
    within_limit = hit("claim", client_ip(), limit=CLAIM_LIMIT, window=WINDOW).allowed
    page = Landing.load(code)
    if page is None:
        return _landing_not_found(limited=not within_limit)
    visit = visitor.read_visit()
    email = (request.form.get("email") or "").strip()[:320]
    consent = request.form.get("consent") == "yes"

    def refuse(message_key: str, status: int):
        html = render_template("ui/landing.html", **page.context(visit, email=email, consent=consent,
                                                                 error=page.t(message_key)))
        return visitor.save_visit(_page(html, status), visit)

    if not within_limit:
        return refuse("landing.error.slow_down", 429)
    if not visitor.form_token_valid(visit, f"claim:{page.advocate.code}", request.form.get("csrf")):
        return refuse("landing.error.form", 400)
    referrer, clicked_at = visit.click_of(page.advocate.code)
    try:
        with session_scope(page.tenant.id) as session:
            outcome = claims.claim_offer(session, page.program, page.advocate.id, email=email, consent=consent,
                                         landing_referrer=referrer, clicked_at=clicked_at, locale=page.locale)
    except claims.ClaimRefused as refused:
        return refuse(*CLAIM_ERRORS[refused.reason])
    issued = claims.issue_now(page.tenant.id, outcome.coupon_id)
    with session_scope(page.tenant.id) as session:
        coupon = session.get(Coupon, outcome.coupon_id)
    html = render_template(
        "ui/claimed.html", locale=page.locale, t=page.t, shop=page.shop,
        page_title=page.t("landing.claimed.title", shop=page.shop), friend_offer=page.offer["friend_offer"],
        issued=issued, again=not outcome.created, code=outcome.code, email=outcome.contact_email,
        expires=coupon.expires_at.date().isoformat() if coupon.expires_at else None,
        storefront_url=links.storefront_link(page.program, code=outcome.code, referral_code=page.advocate.code),
    )
    return visitor.save_visit(_page(html, 201 if outcome.created else 200), visit)


@landing_bp.get("/r/<code>/qr.svg")
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
def landing_card(code: str):
    page = Landing.load(code)
    if page is None:
        return _landing_not_found()
    key = page.card_key
    if request.if_none_match.contains(key):
        return _etagged(Response(status=304), key, "public, max-age=86400")
    png = images.cached_card(key, lambda: images.draw_card(page.title, page.offer["friend_offer"], page.shop,
                                                           page.t("landing.og_cta")))
    response = Response(png, mimetype="image/png")
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return _etagged(response, key, "public, max-age=86400")


# -- the advocate portal --------------------------------------------------------------------------

def _link_form(visit: visitor.Visit, locale: str, *, sent: bool = False, status: int = 410, error: str | None = None):
    html = render_template(
        "ui/portal_link.html", locale=locale, t=lambda key, **p: t(locale, key, **p),
        page_title=t(locale, "portal.expired.title"), sent=sent, error=error,
        form_action=url_for("portal.portal_new_link"),
        csrf=visitor.form_token(visit, "portal-link"),
    )
    return visitor.save_visit(_page(html, status, referrer_policy="no-referrer"), visit)


def _requested_locale() -> str:
    return pick_locale(request.values.get("lang"),
                       request.accept_languages.best_match(LOCALES) if request.accept_languages else None)


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
    return render_template("ui/portal.html", page=page, locale=locale, t=lambda key, **p: t(locale, key, **p),
                           tn_html=lambda key, n, **p: tn_html(locale, key, n, **p),
                           page_title=t(locale, "portal.title", shop=page.shop), languages=languages)


@portal_bp.post("/portal/link")
def portal_new_link():
    visit = visitor.read_visit()
    locale = _requested_locale()
    if not hit("portal_link", client_ip(), limit=LINK_LIMIT, window=600).allowed:
        return _link_form(visit, locale, status=429, error=t(locale, "landing.error.slow_down"))
    if not visitor.form_token_valid(visit, "portal-link", request.form.get("csrf")):
        return _link_form(visit, locale, status=400, error=t(locale, "landing.error.form"))
    email = (request.form.get("email") or "").strip()[:320]
    if hit("portal_link_email", email.lower(), limit=LINK_PER_EMAIL, window=3600).allowed:
        hour = datetime.now(timezone.utc).strftime("%Y%m%d%H")
        portal.send_new_links(email, hour)
    return _link_form(visit, locale, sent=True, status=200)
