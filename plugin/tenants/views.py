"""Endpoints Saleor calls to install the app. None of them may ever redirect."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from plugin import outbound
from plugin.http import ApiError, error_response, json_body, json_error, saleor_contract
from plugin.ratelimit import limiter, retry_after
from plugin.tenants import service
from plugin.tenants.manifest import build_manifest, saleor_line

bp = Blueprint("install", __name__)

REGISTER_LIMIT = 10  # installs per client address per minute: Saleor installs once, attackers probe
# The whole install (token check, JWKS) ends well within Saleor's 18 s wait for our answer.
INSTALL_DEADLINE = 10.0


@bp.get("/api/manifest")
@bp.get("/api/manifest/")
def manifest():
    """Fitted to the Saleor line in `Saleor-Schema-Version` (see plugin.tenants.manifest)."""
    response = jsonify(
        build_manifest(current_app.config["SETTINGS"].app_url, request.headers.get("Saleor-Schema-Version"))
    )
    response.headers["Vary"] = "Saleor-Schema-Version"
    response.headers["Cache-Control"] = "no-store"
    return response


def _register_too_many(limit):
    return error_response(
        ApiError(
            429,
            "TOO_MANY_REQUESTS",
            "Too many install attempts; retry later.",
            headers={"Retry-After": retry_after(limit)},
        ),
        saleor=True,
    )


@bp.route("/api/register", methods=["POST"])
@bp.route("/api/register/", methods=["POST"])
@saleor_contract
@limiter.limit(f"{REGISTER_LIMIT} per minute", on_breach=_register_too_many)
def register():
    api_url = request.headers.get("Saleor-Api-Url", "").strip()
    if not api_url:
        raise ApiError(400, "MISSING_SALEOR_API_URL", "Missing saleor-api-url header.")
    body = json_body()
    token = body.get("auth_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise ApiError(400, "MISSING_AUTH_TOKEN", "Missing auth token.")
    domain = request.headers.get("Saleor-Domain") or request.headers.get("X-Saleor-Domain") or ""
    line = saleor_line(request.headers.get("Saleor-Schema-Version"))
    with outbound.deadline(INSTALL_DEADLINE):
        service.register(api_url, domain, token.strip(), saleor_version=f"{line[0]}.{line[1]}" if line else None)
    return jsonify({"success": True})


@bp.route("/api/register", methods=["GET", "PUT", "PATCH", "DELETE"])
def register_wrong_method():
    return json_error(405, "METHOD_NOT_ALLOWED", "Use POST.")
