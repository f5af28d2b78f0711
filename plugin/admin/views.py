"""The merchant's side: the Dashboard page, the order widget, and the admin JSON API.

Every `/api/admin/*` view is behind `@dashboard_auth` (a Saleor Dashboard JWT,
see plugin.admin.auth). The page itself is static: it gets its token from the
Dashboard over postMessage and calls the API with it. Docs: docs/ADMIN_API.md.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_from_directory

from plugin.admin import channels as shop
from plugin.admin import emails, review, setup
from plugin.admin import settings as program_settings
from plugin.admin.auth import DashboardAuthError, authenticate, current_user, dashboard_auth
from plugin.admin.orders import order_details
from plugin.admin.preview import KINDS, render_preview, widget_preview
from plugin.analytics import charts, export, queries
from plugin.analytics.experiments import experiment_report
from plugin.db import session_scope
from plugin.http import ApiError, json_body
from plugin.i18n import LOCALES, messages
from plugin.program.settings import DEFAULTS, KINDS_BY_SIDE, TRIGGER_STATUSES, Program, deep_merge, load_program
from plugin.program.validation import EMAIL_KINDS, SettingsInvalid, validate_settings
from plugin.referrals import lifecycle
from plugin.tenants.service import get_tenant

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATIC = HERE / "static"

pages = Blueprint("admin_pages", __name__, template_folder="templates")
api = Blueprint("admin_api", __name__, url_prefix="/api/admin")

# Widget texts the settings page offers to rewrite (the widget reads any `widget.*` key; see plugin.ui.share).
WIDGET_TEXT_KEYS = ("title", "greeting", "offer", "intro", "share_text", "email_subject")

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'none'; base-uri 'none'; object-src 'none'"
)


def _theme(value: str | None) -> str:
    return "dark" if value == "dark" else "light"


def _page(html: str, status: int = 200) -> Response:
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# -- pages -----------------------------------------------------------------------------------------


@pages.get("/dashboard/")
@pages.get("/dashboard")
def dashboard():
    return _page(render_template("admin/dashboard.html", theme=_theme(request.args.get("theme"))))


@pages.get("/dashboard/static/<path:filename>")
def static_file(filename: str):
    response = send_from_directory(STATIC, filename, max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@pages.get("/dashboard/order-widget")
def order_widget_frame():
    """The order extension as the manifest declares it: a GET widget (ORDER_DETAILS_WIDGETS, 3.22+)
    or, on 3.21, a POPUP in the order's "more actions" menu. The Dashboard puts `orderId` and
    `theme` in the URL and hands the token over postMessage (handshake, tokenRefresh), then sends
    `theme` events; the page asks the admin API for the order with that token."""
    return _page(render_template("admin/order_widget_frame.html", theme=_theme(request.args.get("theme"))))


@pages.post("/dashboard/order-widget")
def order_widget():
    """The same extension as earlier manifests declared it (a POST widget), for shops that installed
    the app then. Saleor POSTs accessToken, saleorApiUrl, appId, orderId; the Dashboard sends such a
    frame no theme and no handshake, so it follows the Dashboard's theme once the app is reinstalled."""
    form = request.form
    theme = _theme(form.get("theme") or request.args.get("theme"))
    try:
        user = authenticate(form.get("accessToken"), form.get("saleorApiUrl"), permission="MANAGE_ORDERS")
    except DashboardAuthError as exc:
        return _page(render_template("admin/order_widget.html", theme=theme, error=exc.message, data=None), exc.status)
    order_id = (form.get("orderId") or "").strip()
    if not order_id or len(order_id) > 255:
        return _page(
            render_template(
                "admin/order_widget.html", theme=theme, data=None, error="Saleor did not say which order this is."
            ),
            400,
        )
    with session_scope(user.tenant_id) as session:
        data = order_details(session, user.tenant_id, order_id)
    return _page(render_template("admin/order_widget.html", theme=theme, data=data, error=None))


# -- API helpers -------------------------------------------------------------------------------------


def _invalid(
    fields: dict[str, str], message: str = "Some settings are not valid.", code: str = "INVALID_SETTINGS"
) -> ApiError:
    return ApiError(400, code, message, fields=fields)


def _bad_parameter(name: str, problem: str) -> ApiError:
    return _invalid({name: problem}, "Bad query parameter.", "INVALID_PARAMETER")


def _period() -> queries.Period:
    try:
        return queries.parse_period(request.args)
    except queries.RangeError as exc:
        raise _invalid({exc.field: exc.message}, "The date range is not valid.", "INVALID_RANGE") from None


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise _bad_parameter(name, f"must be a whole number from {low} to {high}")
    return value


def _json_object(expected: str = "Expected a JSON object.", *, optional: bool = False) -> dict:
    if optional and not request.get_data(cache=True):
        return {}
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_BODY", expected)
    return body


def _note(body: dict) -> str:
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > 500:
        raise _invalid({"note": "must be text of at most 500 characters"}, "Bad request.", "INVALID_BODY")
    return note.strip()


def _program(tenant_id: int) -> tuple[dict, int]:
    with session_scope(tenant_id) as session:
        return program_settings.effective(session, tenant_id)


# -- API: who am I -------------------------------------------------------------------------------------


@api.get("/me")
@dashboard_auth(permission=None)
def me():
    user = current_user()
    # The Dashboard page asks this first on every visit: a fresh read of the shop's name (and channels).
    info = shop.shop_channels(user.tenant_id, refresh=True)
    tenant = get_tenant(user.tenant_id)
    name = info["shop_name"] or tenant.shop_name or tenant.domain
    return jsonify(
        {
            "email": user.email,
            "permissions": sorted(user.permissions),
            "saleor_api_url": user.saleor_api_url,
            "shop_name": name,
            "app_url": current_app.config["SETTINGS"].app_url,
        }
    )


# -- API: setup checklist ----------------------------------------------------------------------------


@api.get("/setup")
@dashboard_auth()
def setup_checklist():
    user = current_user()
    tenant = get_tenant(user.tenant_id)
    with session_scope(user.tenant_id) as session:
        program = load_program(session, user.tenant_id)
        return jsonify(setup.checklist(session, tenant, program, current_app.config["SETTINGS"].app_url))


# -- API: settings ----------------------------------------------------------------------------------


@api.get("/settings")
@dashboard_auth()
def get_settings():
    user = current_user()
    with session_scope(user.tenant_id) as session:
        settings, version = program_settings.effective(session, user.tenant_id)
        history = program_settings.history(session, user.tenant_id, limit=10)
    info = shop.shop_channels(user.tenant_id)
    return jsonify(
        {
            "settings": settings,
            "version": version,
            "defaults": DEFAULTS,
            "channels": info["channels"],
            "channels_source": info["source"],
            "shop_name": info["shop_name"],
            "default_channel": (shop.default_channel(user.tenant_id, info) or {}).get("slug"),
            "options": {
                "trigger_statuses": list(TRIGGER_STATUSES),
                "languages": list(LOCALES),
                "reward_types": ["FIXED", "PERCENTAGE"],
                "email_kinds": list(EMAIL_KINDS),
                "reward_kinds": {side: list(kinds) for side, kinds in KINDS_BY_SIDE.items()},
                "widget_texts": {
                    locale: {key: messages(locale, "widget.").get(f"widget.{key}", "") for key in WIDGET_TEXT_KEYS}
                    for locale in LOCALES
                },
            },
            "history": history,
        }
    )


@api.put("/settings")
@dashboard_auth()
def put_settings():
    user = current_user()
    body = _json_object("Expected a JSON object of settings.")
    payload = body.get("settings", body) if "settings" in body else body
    expected = body.get("version") if "settings" in body else None
    if not isinstance(payload, dict):
        raise _invalid({"settings": "must be an object"})
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise _invalid({"version": "must be the version number you loaded"}, "Bad request.", "INVALID_BODY")
    info = shop.shop_channels(user.tenant_id)
    try:
        settings, version, changes = program_settings.save(
            user.tenant_id,
            payload,
            actor=user.email or user.actor,
            channels=shop.currency_map(info),
            expected_version=expected,
        )
    except SettingsInvalid as exc:
        raise _invalid(exc.fields) from None
    except program_settings.VersionConflict as exc:
        raise ApiError(
            409,
            "VERSION_CONFLICT",
            "Someone else saved the settings meanwhile; reload to see their changes.",
            current_version=exc.current,
        ) from None
    log.info("settings of tenant %s changed by %s: %s", user.tenant_id, user.actor, ", ".join(changes) or "nothing")
    return jsonify({"settings": settings, "version": version, "changed": sorted(changes)})


@api.get("/settings/history")
@dashboard_auth()
def settings_history():
    user = current_user()
    limit = _int_arg("limit", 50, 1, 500)
    with session_scope(user.tenant_id) as session:
        return jsonify({"items": program_settings.history(session, user.tenant_id, limit=limit)})


def _previewed(tenant_id: int, body: dict) -> tuple[dict, dict | None]:
    """The (unsaved) settings a preview shows, validated like a save, and the channel it shows them
    in: the one asked for, else the shop's default channel."""
    current, _version = _program(tenant_id)
    edited = body.get("settings") or {}
    if not isinstance(edited, dict):
        raise _invalid({"settings": "must be an object"})
    info = shop.shop_channels(tenant_id)
    try:
        settings = validate_settings(program_settings.candidate(current, edited), channels=shop.currency_map(info))
    except SettingsInvalid as exc:
        raise _invalid(exc.fields) from None
    channel = body.get("channel") if isinstance(body.get("channel"), str) else None
    channel_entry = next((c for c in info["channels"] if c["slug"] == channel), None) or shop.default_channel(
        tenant_id, info
    )
    return settings, channel_entry


@api.post("/email-preview")
@dashboard_auth()
def email_preview():
    """Body: {"kind", "locale"?, "channel"?, "settings"?: the (unsaved) settings being edited}."""
    user = current_user()
    body = _json_object()
    kind = body.get("kind", "invite")
    if kind not in KINDS:
        raise _invalid({"kind": "must be one of " + ", ".join(KINDS)}, "Unknown e-mail.", "INVALID_BODY")
    settings, channel_entry = _previewed(user.tenant_id, body)
    currency = channel_entry["currency"] if channel_entry else "USD"
    tenant = get_tenant(user.tenant_id)
    preview = render_preview(
        Program(deep_merge(DEFAULTS, settings)),
        kind,
        str(body.get("locale") or settings["default_locale"]),
        shop=tenant.shop_name,
        channel=channel_entry["slug"] if channel_entry else None,
        currency=currency,
    )
    return jsonify(preview)


@api.post("/widget-preview")
@dashboard_auth()
def widget_text_preview():
    """Body: {"locale"?, "channel"?, "rewarded"?: friends rewarded so far (0-10000), "settings"?: the
    (unsaved) settings being edited}. What the widget would say, from the same code that serves it."""
    user = current_user()
    body = _json_object()
    rewarded = body.get("rewarded", 0)
    if isinstance(rewarded, bool) or not isinstance(rewarded, int) or not 0 <= rewarded <= 10000:
        raise _invalid({"rewarded": "must be a whole number from 0 to 10000"}, "Bad request.", "INVALID_BODY")
    settings, channel_entry = _previewed(user.tenant_id, body)
    tenant = get_tenant(user.tenant_id)
    return jsonify(
        widget_preview(
            Program(deep_merge(DEFAULTS, settings)),
            tenant,
            str(body.get("locale") or settings["default_locale"]),
            channel=channel_entry["slug"] if channel_entry else None,
            currency=channel_entry["currency"] if channel_entry else "USD",
            rewarded=rewarded,
        )
    )


# -- API: analytics -----------------------------------------------------------------------------------


def _report(tenant_id: int, period):
    info = shop.shop_channels(tenant_id)
    with session_scope(tenant_id) as session:
        return queries.program_report(session, tenant_id, period, shop.channel_info(info))


@api.get("/stats")
@dashboard_auth()
def stats():
    user = current_user()
    report = _report(user.tenant_id, _period())
    if request.args.get("charts") in ("1", "true"):
        for group in report["groups"]:
            group["charts"] = charts.charts_for(group)
    return jsonify(report)


@api.get("/stats.csv")
@dashboard_auth()
def stats_csv():
    user = current_user()
    period = _period()
    table = request.args.get("table", "summary")
    if table == "advocates":
        with session_scope(user.tenant_id) as session:
            body = export.advocates_csv(queries.top_advocates(session, user.tenant_id, period, limit=1000))
    elif table in ("summary", "daily"):
        report = _report(user.tenant_id, period)
        body = export.summary_csv(report) if table == "summary" else export.daily_csv(report)
    else:
        raise _bad_parameter("table", "must be summary, daily or advocates")
    suffix = f"-{period.channel}" if period.channel else ""
    name = f"referrals-{table}-{period.start.isoformat()}-{period.end.isoformat()}{suffix}.csv"
    safe_name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"', "Cache-Control": "no-store"},
    )


@api.get("/experiments")
@dashboard_auth()
def experiments():
    user = current_user()
    period = _period()
    settings, _version = _program(user.tenant_id)
    with session_scope(user.tenant_id) as session:
        counts = queries.experiment_counts(session, user.tenant_id, period)
    report = experiment_report(settings, counts)
    report.update({"from": period.start.isoformat(), "to": period.end.isoformat(), "channel": period.channel})
    return jsonify(report)


@api.get("/advocates")
@dashboard_auth()
def advocates():
    user = current_user()
    period = _period()
    limit = _int_arg("limit", 50, 1, 1000)
    sort = request.args.get("sort", "friends")
    if sort not in ("friends", "revenue"):
        raise _bad_parameter("sort", "must be friends or revenue")
    with session_scope(user.tenant_id) as session:
        items = queries.top_advocates(session, user.tenant_id, period, limit=limit, sort=sort)
    return jsonify(
        {"from": period.start.isoformat(), "to": period.end.isoformat(), "channel": period.channel, "items": items}
    )


# -- API: review queue ---------------------------------------------------------------------------------


@api.get("/referrals")
@dashboard_auth()
def referrals():
    user = current_user()
    queue = request.args.get("state", "held")
    if queue not in review.QUEUES:
        raise _bad_parameter("state", "must be held or flagged")
    limit = _int_arg("limit", 100, 1, 500)
    before = _int_arg("before_id", 0, 0, 2**62)
    with session_scope(user.tenant_id) as session:
        return jsonify(review.list_queue(session, user.tenant_id, queue, limit=limit, before_id=before or None))


@api.post("/referrals/<int:referral_id>/<any(approve, reject):action>")
@dashboard_auth()
def decide_one(referral_id: int, action: str):
    note = _note(_json_object(optional=True))
    user = current_user()
    decision = lifecycle.decide(user.tenant_id, referral_id, action, actor=user.actor, note=note)
    return jsonify({"id": referral_id, "ok": True, "state": decision.state, "message": decision.message})


@api.post("/referrals/bulk")
@dashboard_auth()
def decide_bulk():
    body = _json_object('Expected {"action": "approve"|"reject", "ids": [...]}.')
    fields = {}
    action = body.get("action")
    if action not in ("approve", "reject"):
        fields["action"] = "must be approve or reject"
    ids = body.get("ids")
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > review.MAX_BULK
        or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids)
    ):
        fields["ids"] = f"must be a list of 1 to {review.MAX_BULK} referral ids"
    note = _note(body)
    if fields:
        raise _invalid(fields, "Bad request.", "INVALID_BODY")
    user = current_user()
    results = review.decide(user.tenant_id, list(dict.fromkeys(ids)), action, actor=user.actor, note=note)
    return jsonify(
        {"results": results, "ok": sum(1 for r in results if r["ok"]), "failed": sum(1 for r in results if not r["ok"])}
    )


# -- API: one order --------------------------------------------------------------------------------------


@api.get("/orders/<path:order_id>")
@dashboard_auth(permission="MANAGE_ORDERS")
def order(order_id: str):
    user = current_user()
    if len(order_id) > 255:
        raise ApiError(404, "NOT_FOUND", "No such order.")
    with session_scope(user.tenant_id) as session:
        data = order_details(session, user.tenant_id, order_id)
    if data is None:
        raise ApiError(404, "NOT_FOUND", "The app has not seen this order (it may predate the installation).")
    return jsonify(data)


# -- API: e-mails --------------------------------------------------------------------------------------


@api.get("/emails")
@dashboard_auth()
def list_emails():
    user = current_user()
    status = request.args.get("status", "failed")
    if status not in emails.STATUSES:
        raise _bad_parameter("status", "must be " + ", ".join(emails.STATUSES))
    limit = _int_arg("limit", 100, 1, 500)
    with session_scope(user.tenant_id) as session:
        return jsonify({"items": emails.list_emails(session, user.tenant_id, status, limit=limit)})


@api.post("/emails/<int:email_id>/resend")
@dashboard_auth()
def resend_email(email_id: int):
    user = current_user()
    email = emails.resend(user.tenant_id, email_id)
    log.info("e-mail %s of tenant %s resent by %s", email_id, user.tenant_id, user.actor)
    return jsonify(email)
