"""The app-install flow of core ``saleor/app/installation_utils.py`` (``install_app``).

1. ``GET manifestUrl`` with ``Saleor-Schema-Version: 3.23`` / ``User-Agent: Saleor/3.23``, no
   redirects, timeout (2, 18); connection errors/timeouts are retried twice (3 attempts). The
   response must be 2xx JSON.
2. Validate the manifest (required ``id``/``name``/``version``, known permissions, webhook
   ``name``/``targetUrl``/``query``, subscription query valid against the schema, unique ``id``).
3. Create the app (+ webhooks; events from ``asyncEvents`` or, if absent, from the query).
4. If ``tokenTargetUrl`` is set: ``POST`` ``{"auth_token": "<token>"}`` (``json.dumps`` default
   separators) with ``Content-Type``, ``X-Saleor-Domain``, ``Saleor-Domain``, ``Saleor-Api-Url``,
   ``Saleor-Schema-Version``. ``raise_for_status()`` semantics: 4xx/5xx or a transport error ->
   the app is deleted and the installation FAILED (message from ``{"error": {"message"}}`` if the
   app sent one). **3xx counts as success** (the app never got the token, but Saleor does not know).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from .schema import subscription_event_types, validate_subscription_query
from .state import ALL_PERMISSIONS, SCHEMA_VERSION, App, Webhook, camel_to_event, generate_app_token
from .webhooks import send_saleor_request

if TYPE_CHECKING:  # pragma: no cover
    from .server import SaleorEmulator


class InstallError(Exception):
    def __init__(self, message: str, code: str = "INVALID"):
        super().__init__(message)
        self.code = code


@dataclass
class InstallResult:
    app: App | None
    response: requests.Response | None  # the tokenTargetUrl response
    status: str  # "INSTALLED" | "FAILED"
    message: str | None = None
    manifest: dict[str, Any] | None = None
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "INSTALLED"

    def raise_for_status(self) -> "InstallResult":
        if not self.ok:
            raise InstallError(self.message or "installation failed", self.error_code or "FAILED")
        return self


def fetch_manifest(emulator: "SaleorEmulator", manifest_url: str) -> dict[str, Any]:
    last_exc: Exception | None = None
    for attempt in range(3):
        try:
            resp = send_saleor_request(
                "GET", manifest_url, {"Saleor-Schema-Version": SCHEMA_VERSION}, None,
                timeout=(emulator.delivery_timeout[0] + attempt, emulator.delivery_timeout[1]),
                host_without_port=emulator.host_header_without_port,
            )
            break
        except (requests.ConnectionError, requests.Timeout) as exc:
            last_exc = exc
    else:
        raise InstallError(f"Unable to fetch manifest data: {last_exc}", "MANIFEST_URL_CANT_CONNECT")
    if not 200 <= resp.status_code < 300:
        raise InstallError(f"Unable to fetch manifest data: HTTP {resp.status_code}", "MANIFEST_URL_CANT_CONNECT")
    try:
        return resp.json()
    except ValueError as exc:
        raise InstallError("Incorrect structure of manifest.", "INVALID") from exc


def validate_manifest(emulator: "SaleorEmulator", manifest: dict[str, Any], permissions: list[str]) -> None:
    missing = [f for f in ("id", "version", "name") if not manifest.get(f)]
    if missing:
        raise InstallError(f"Field required: {', '.join(missing)}", "REQUIRED")
    unknown = [p for p in permissions if p not in ALL_PERMISSIONS]
    if unknown:
        raise InstallError(f"Given permissions don't exist: {unknown}", "INVALID_PERMISSION")
    with emulator.state.lock:
        if any(a.identifier == manifest["id"] and not a.deleted for a in emulator.state.apps.values()):
            raise InstallError("App with the same identifier is already installed.", "UNIQUE")
    for wh in manifest.get("webhooks") or []:
        for f in ("name", "targetUrl", "query"):
            if not wh.get(f):
                raise InstallError(f"Webhook field required: {f}", "REQUIRED")
        errors = validate_subscription_query(wh["query"])
        if errors:
            raise InstallError(f"Subscription query is not valid: {errors[0]}", "INVALID")


def install(emulator: "SaleorEmulator", manifest_url: str, *, permissions: list[str] | None = None,
            activate: bool = True, app_name: str | None = None) -> InstallResult:
    try:
        manifest = fetch_manifest(emulator, manifest_url)
        perms = list(permissions if permissions is not None else manifest.get("permissions") or [])
        validate_manifest(emulator, manifest, perms)
    except InstallError as exc:
        return InstallResult(None, None, "FAILED", str(exc), None, exc.code)

    st = emulator.state
    with st.lock:
        app = App(
            pk=st.next_id("app"), identifier=manifest["id"], name=app_name or manifest["name"],
            permissions=perms, token=generate_app_token(), is_active=activate,
            version=manifest.get("version"), about=manifest.get("about"),
            app_url=manifest.get("appUrl"), manifest_url=manifest_url,
            token_target_url=manifest.get("tokenTargetUrl"), audience=manifest.get("audience"),
            manifest=manifest,
        )
        for wh in manifest.get("webhooks") or []:
            async_events = list(wh.get("asyncEvents") or [])
            sync_events = list(wh.get("syncEvents") or [])
            if not async_events and not sync_events:
                async_events = [camel_to_event(t) for t in subscription_event_types(wh["query"])]
            app.webhooks.append(Webhook(
                pk=st.next_id("webhook"), app_pk=app.pk, name=wh["name"], target_url=wh["targetUrl"],
                query=wh["query"], async_events=async_events, sync_events=sync_events,
                is_active=wh.get("isActive", True), custom_headers=dict(wh.get("customHeaders") or {}),
            ))
        st.apps[app.pk] = app

    response = None
    target = manifest.get("tokenTargetUrl")
    if target:
        headers = {
            "Content-Type": "application/json",
            "X-Saleor-Domain": emulator.domain,
            "Saleor-Domain": emulator.domain,
            "Saleor-Api-Url": emulator.api_url,
            "Saleor-Schema-Version": SCHEMA_VERSION,
        }
        body = json.dumps({"auth_token": app.token}).encode("utf-8")
        try:
            response = send_saleor_request(
                "POST", target, headers, body, timeout=emulator.delivery_timeout,
                host_without_port=emulator.host_header_without_port,
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            message = None
            if response is not None and response.status_code >= 400:
                try:
                    message = response.json()["error"]["message"]
                except Exception:  # noqa: BLE001
                    message = f"App internal error ({response.status_code}). Try later or contact with app support."
            else:
                message = f"{type(exc).__name__}: {exc}"
            with st.lock:
                app.deleted = True
                app.revoked_tokens.append(app.token)
                st.apps.pop(app.pk, None)
            emulator.install_log.append({"app": app.identifier, "status": "FAILED", "message": message})
            return InstallResult(app, response, "FAILED", message, manifest, "INSTALLATION_FAILED")
    emulator.install_log.append({"app": app.identifier, "status": "INSTALLED", "message": None})
    emulator._emit_app_event("APP_INSTALLED", app)
    return InstallResult(app, response, "INSTALLED", None, manifest)
