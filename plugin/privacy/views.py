"""Admin API for data-subject requests (GDPR art. 15 and 17): export and erase by e-mail.

POST /api/admin/privacy/export  {"email": "..."}  → everything stored about it (JSON download)
POST /api/admin/privacy/erase   {"email": "..."}  → pseudonymise it, cancel its rewards in flight

The e-mail travels in the body, never in the URL, so it stays out of access logs. Callers are
Saleor Dashboard users with the MANAGE_USERS permission ("Manage customers").
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify

from plugin.admin.auth import current_user, dashboard_auth
from plugin.http import ApiError, json_body
from plugin.identity import is_valid_email
from plugin.privacy import service
from plugin.tenants.service import get_tenant, saleor_client

log = logging.getLogger(__name__)
bp = Blueprint("privacy", __name__, url_prefix="/api/admin/privacy")

PERMISSION = "MANAGE_USERS"


def _email_from_body() -> str:
    body = json_body(code="INVALID_JSON")
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str) or not is_valid_email(email.strip()):
        raise ApiError(400, "INVALID_EMAIL", 'Send {"email": "name@example.com"}.')
    return email.strip()


def _secret() -> str:
    return current_app.config["SETTINGS"].secret_key


@bp.post("/export")
@dashboard_auth(permission=PERMISSION)
def export_personal_data():
    email = _email_from_body()
    data = service.export(current_user().tenant_id, email, secret=_secret())
    response = jsonify(data)
    response.headers["Content-Disposition"] = 'attachment; filename="personal-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/erase")
@dashboard_auth(permission=PERMISSION)
def erase_personal_data():
    email = _email_from_body()
    user = current_user()
    report = service.erase(
        user.tenant_id, email, secret=_secret(), saleor=lambda: _saleor_client(user.tenant_id), actor=user.actor
    )
    log.info("erasure %s by %s: complete=%s", report.pseudonym, user.actor, report.complete)
    body = report.as_dict()
    if not report.complete:
        body["message"] = (
            "Personal data was erased, but some reward codes could not be deleted in Saleor yet. "
            "Run the erasure again later to finish."
        )
    return jsonify(body), 200


def _saleor_client(tenant_id: int):
    tenant = get_tenant(tenant_id)
    return saleor_client(tenant) if tenant is not None and tenant.token_encrypted else None
