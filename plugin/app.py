"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from flask.sessions import SessionInterface
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

import plugin.coupons.tasks  # noqa: F401 - every module that defines tasks is imported here, so
import plugin.mail.tasks  # noqa: F401 - the runners find each task by its name
import plugin.merchant_webhooks.tasks  # noqa: F401
import plugin.referrals.tasks  # noqa: F401
import plugin.sweeper  # noqa: F401
import plugin.tenants.tasks  # noqa: F401
import plugin.webhooks.tasks  # noqa: F401
from plugin import ratelimit, tasks
from plugin.admin.views import api as admin_api
from plugin.admin.views import pages as admin_pages
from plugin.admin.webhooks import bp as admin_webhooks_api
from plugin.config import Config
from plugin.db import init_engine, session_scope
from plugin.http import ApiError, error_response, json_error
from plugin.migrations import upgrade
from plugin.privacy.views import bp as privacy_api
from plugin.tasks.celery_factory import make_celery
from plugin.tenants.views import bp as install_endpoints
from plugin.ui.pages import error_page
from plugin.ui.views import landing_bp, portal_bp, unsubscribe_bp, widget_bp
from plugin.webhooks.views import bp as webhook_endpoints

log = logging.getLogger(__name__)

# Libraries that log request or response bodies (gql: every query and answer at INFO) or URLs with
# personal data at INFO/DEBUG: our log carries ids, never codes, tokens or e-mail addresses.
QUIET_LOGGERS = (
    "gql",
    "gql.transport.requests",
    "requests",
    "urllib3",
    "flask-limiter",
    "limits",
    "werkzeug",
)  # werkzeug: the dev server logs every path, portal links (bearer tokens) too

BLUEPRINTS = (
    install_endpoints,
    webhook_endpoints,
    widget_bp,
    landing_bp,
    portal_bp,
    unsubscribe_bp,
    admin_pages,
    admin_api,
    admin_webhooks_api,
    privacy_api,
)

# Endpoints Saleor, storefronts and scripts call: errors are JSON there, HTML elsewhere.
JSON_PREFIXES = ("/api/", "/healthz", "/widget")


def create_app(config: Config | None = None, *, runner: str | None = None) -> Flask:
    cfg = config or Config.from_env()
    configure_logging(cfg.log_level)
    if not cfg.allowed_saleor_api_urls:
        log.warning(
            "ALLOWED_SALEOR_API_URLS is empty: any Saleor may install this app (loopback %s, private networks %s). "
            "Set it in production.",
            "allowed" if cfg.saleor_allow_loopback else "refused",
            "allowed" if cfg.saleor_allow_private else "refused",
        )

    app = Flask(__name__, static_folder=None)
    if cfg.trusted_proxies > 0:
        # Behind N reverse proxies, the client address and scheme come from their X-Forwarded-* headers
        # (rate limits per visitor, `Secure` cookies); without the setting those headers are ignored.
        n = cfg.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)
    app.config["SETTINGS"] = cfg
    app.config["SECRET_KEY"] = cfg.secret_key
    # Larger bodies are refused with 413 before anything reads them.
    app.config["MAX_CONTENT_LENGTH"] = max(cfg.max_webhook_bytes, 64 * 1024)
    app.url_map.strict_slashes = False  # never 308 a Saleor call to a trailing-slash variant
    # No state lives in Flask's cookie session (CSRF tokens and portal links are signed on their
    # own), so no request pays for opening one; a write to `flask.session` fails loudly.
    app.session_interface = _NoCookieSession()

    init_engine(cfg.database_url)
    upgrade(cfg.database_url)

    _install_runner(app, cfg, runner)
    ratelimit.init_app(app, cfg.redis_url)
    _register_blueprints(app)
    _register_error_handlers(app)

    @app.get("/healthz")
    def healthz():
        status = {"database": _check_database(), "broker": _check_broker(app)}
        ok = all(v in ("ok", "in-process") for v in status.values())
        return jsonify({"ok": ok, **status}), 200 if ok else 503

    return app


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class _NoCookieSession(SessionInterface):
    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


def _install_runner(app: Flask, cfg: Config, runner: str | None) -> None:
    if runner == "eager" or cfg.task_always_eager:
        app.extensions["task_runner"] = tasks.EagerRunner(app)
    elif cfg.redis_url:
        celery = make_celery(cfg)
        app.extensions["celery"] = celery
        app.extensions["task_runner"] = tasks.CeleryRunner(celery)
    else:
        workers = 1 if cfg.database_url.startswith("sqlite") else 4
        runner_obj = tasks.InProcessRunner(app, workers=workers, sweep_interval=cfg.sweep_interval)
        app.extensions["task_runner"] = runner_obj
        runner_obj.start()


def _register_blueprints(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)


def _wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == "application/json"


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        view = app.view_functions.get(request.endpoint)
        return error_response(exc, saleor=getattr(view, "saleor_contract", False))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.response is not None:  # an answer made for this case (e.g. a rate limit's own page)
            return exc.response
        if _wants_json():
            code = (exc.name or "error").upper().replace(" ", "_")
            return json_error(exc.code or 500, code, exc.description or exc.name)
        return error_page(exc.code or 500)

    @app.errorhandler(OperationalError)
    def storage_unavailable(exc: OperationalError):
        # The database is down or restarting: 503 tells Saleor (and browsers) to come back later.
        log.error("database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
        if _wants_json():
            return json_error(503, "STORAGE_UNAVAILABLE", "Temporarily unavailable; try again shortly.")
        return error_page(503)

    @app.errorhandler(RecursionError)
    def nested_too_deep(exc: RecursionError):
        # Only hostile input nests this deep (JSON, a JWT header); parsers that recurse give up here.
        log.warning("input nested too deep on %s %s", request.method, request.path)
        if _wants_json():
            return json_error(400, "NESTED_TOO_DEEP", "The request is nested too deeply.")
        return error_page(400)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return json_error(500, "INTERNAL_ERROR", "Something went wrong on our side; it was logged.")
        return error_page(500)


def _check_database() -> str:
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"


def _check_broker(app: Flask) -> str:
    celery = app.extensions.get("celery")
    if celery is None:
        return "in-process"
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
