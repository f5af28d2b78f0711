"""The app-install flow of core ``saleor/app/installation_utils.py`` (``install_app``).

1. ``GET manifestUrl`` with ``Saleor-Schema-Version: <major.minor>`` / ``User-Agent: Saleor/<major.minor>``
   of the line the emulator plays, no redirects, timeout (2, 18); connection errors/timeouts are
   retried twice (3 attempts). The response must be 2xx JSON.
2. Validate the manifest with that line's ``clean_manifest_data`` (see ``versions.py``): required
   fields (``tokenTargetUrl`` too up to 3.22), ``requiredSaleorVersion`` against the release played,
   known permissions, unique ``id``, extension mount/target/url/options/permissions, webhook events,
   target URL and subscription query (valid against that line's schema). The message is built like
   ``install_app_task``'s: ``"extensions: ['Incorrect value for field: target', ...]"``.
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
from urllib.parse import urlsplit

import requests
import semantic_version

from .schema import is_event_type, subscription_event_types, validate_subscription_query
from .state import ALL_PERMISSIONS, App, Webhook, camel_to_event, generate_app_token
from .versions import WIDGET_MOUNTS_322, SaleorVersion
from .webhooks import send_saleor_request

if TYPE_CHECKING:  # pragma: no cover
    from .server import SaleorEmulator


class InstallError(Exception):
    def __init__(self, message: str, code: str = "INVALID"):
        super().__init__(message)
        self.code = code
        self.fields: dict[str, list[str]] = {}


@dataclass
class InstallResult:
    app: App | None
    response: requests.Response | None  # the tokenTargetUrl response
    status: str  # "INSTALLED" | "FAILED"
    message: str | None = None
    manifest: dict[str, Any] | None = None
    error_code: str | None = None
    # Manifest validation errors by field, e.g. {"extensions": ["Incorrect value for field: target"]}.
    errors: dict[str, list[str]] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "INSTALLED"

    def raise_for_status(self) -> InstallResult:
        if not self.ok:
            raise InstallError(self.message or "installation failed", self.error_code or "FAILED")
        return self


def fetch_manifest(emulator: SaleorEmulator, manifest_url: str) -> dict[str, Any]:
    last_exc: Exception | None = None
    for attempt in range(3):
        try:
            resp = send_saleor_request(
                "GET",
                manifest_url,
                {"Saleor-Schema-Version": emulator.version.schema_version},
                None,
                timeout=(emulator.delivery_timeout[0] + attempt, emulator.delivery_timeout[1]),
                host_without_port=emulator.host_header_without_port,
                user_agent=emulator.version.user_agent,
            )
            break
        except (requests.ConnectionError, requests.Timeout) as exc:
            last_exc = exc
    else:
        raise InstallError(f"Unable to fetch manifest data: {last_exc}", "MANIFEST_URL_CANT_CONNECT")
    emulator.manifest_fetches.append(resp.request)
    if not 200 <= resp.status_code < 300:
        raise InstallError(f"Unable to fetch manifest data: HTTP {resp.status_code}", "MANIFEST_URL_CANT_CONNECT")
    try:
        return resp.json()
    except ValueError as exc:
        raise InstallError("Incorrect structure of manifest.", "INVALID") from exc


class ManifestErrors:
    """Core's ``errors`` dict of ``ValidationError`` lists; the installation's message is built from it the
    way ``install_app_task`` does: ``", ".join(f"{name}: {messages}")``."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[tuple[str, str]]] = {}

    def add(self, field: str, message: str, code: str = "INVALID") -> None:
        self.by_field.setdefault(field, []).append((message, code))

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def raise_if_any(self) -> None:
        if not self.by_field:
            return
        message = ", ".join(f"{name}: {[m for m, _c in errs]}" for name, errs in self.by_field.items())
        first_code = next(iter(self.by_field.values()))[0][1]
        error = InstallError(message, first_code)
        error.fields = {name: [m for m, _c in errs] for name, errs in self.by_field.items()}
        raise error


def _valid_url(value: Any, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    """Django's URLValidator as AppURLValidator uses it, for the URLs an emulated install meets."""
    if not isinstance(value, str) or any(ch.isspace() for ch in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in schemes and bool(parts.hostname)


def _required_version_problem(version: SaleorVersion, required: Any) -> tuple[str, str] | None:
    """``_clean_required_saleor_version(raise_for_saleor_version=True)``: npm range, "natural" prereleases."""
    if not required:
        return None
    try:
        spec = _RequiredSaleorVersionSpec(str(required))
    except Exception:  # noqa: BLE001 - core catches everything here too
        return "Incorrect value for required Saleor version.", "INVALID"
    if not spec.match(semantic_version.Version(version.release)):
        return f"Saleor version {version.release} is not supported by the app.", "UNSUPPORTED_SALEOR_VERSION"
    return None


class _RequiredSaleorVersionSpec(semantic_version.NpmSpec):
    class Parser(semantic_version.NpmSpec.Parser):
        @classmethod
        def range(cls, operator, target):
            return semantic_version.base.Range(
                operator, target, prerelease_policy=semantic_version.base.Range.PRERELEASE_NATURAL
            )


def validate_manifest(emulator: SaleorEmulator, manifest: dict[str, Any], permissions: list[str]) -> None:
    """``clean_manifest_data`` of the line the emulator plays; raises ``InstallError`` like core's
    ValidationError (all errors of a stage at once)."""
    version = emulator.version
    if not isinstance(manifest, dict):
        raise InstallError("Incorrect structure of manifest.", "INVALID")
    errors = ManifestErrors()
    required = ["id", "version", "name"] + (["tokenTargetUrl"] if version.requires_token_target_url else [])
    for name in required:
        if name not in manifest or (not version.requires_token_target_url and manifest.get(name) is None):
            errors.add(name, "Field required.", "REQUIRED")
    for ext in manifest.get("extensions") or []:
        missing = [f for f in ("label", "url", "mount") if f not in ext]
        if missing:
            errors.add("extensions", f"Missing required fields for app extension: {', '.join(missing)}.", "REQUIRED")
    for wh in manifest.get("webhooks") or []:
        missing = [f for f in ("name", "targetUrl", "query") if f not in wh]
        if missing:
            errors.add("webhooks", f"Missing required fields for webhook: {', '.join(missing)}.", "REQUIRED")
    if not version.requires_token_target_url:
        # 3.23: pydantic (manifest_schema.py) stops here before anything else is looked at.
        errors.raise_if_any()
    if manifest.get("tokenTargetUrl") is not None and not _valid_url(manifest["tokenTargetUrl"]):
        errors.add("tokenTargetUrl", "Incorrect format.", "INVALID_URL_FORMAT")
    problem = _required_version_problem(version, manifest.get("requiredSaleorVersion"))
    if problem:
        errors.add("requiredSaleorVersion", *problem)
    author = manifest.get("author")
    if author is not None and (not isinstance(author, str) or not author.strip()):
        errors.add("author", "Incorrect value for field: author", "INVALID")
    unknown = [p for p in permissions if p not in ALL_PERMISSIONS]
    if unknown:
        errors.add("permissions", "Given permissions don't exist.", "INVALID_PERMISSION")
    with emulator.state.lock:
        existing = next(
            (a for a in emulator.state.apps.values() if a.identifier == manifest.get("id") and not a.deleted), None
        )
    if existing is not None:
        errors.add("identifier", f"App with the same identifier is already installed: {existing.name}", "UNIQUE")
    errors.raise_if_any()
    for ext in manifest.get("extensions") or []:
        _check_extension(version, manifest, ext, permissions, errors)
    for wh in manifest.get("webhooks") or []:
        _check_webhook(version, wh, errors)
    errors.raise_if_any()


def _check_extension(
    version: SaleorVersion, manifest: dict, ext: dict, app_permissions: list[str], errors: ManifestErrors
) -> None:
    targets, mounts = version.extension_targets, version.extension_mounts
    target = ext.get("target", "POPUP")
    if targets is not None and target not in targets:
        errors.add("extensions", "Incorrect value for field: target", "INVALID")
    if mounts is not None and ext["mount"] not in mounts:
        errors.add("extensions", "Incorrect value for field: mount", "INVALID")
    if version.checks_extension_options and target == "WIDGET" and ext["mount"] not in WIDGET_MOUNTS_322:
        errors.add("extensions", f"Mount {str(ext['mount']).upper()} is not available for WIDGET target.", "INVALID")
    if not _extension_url_ok(version, manifest, ext, str(target).upper()):
        errors.add("extensions", "Incorrect value for field: url.", "INVALID_URL_FORMAT")
    wanted = list(ext.get("permissions") or [])
    if any(p not in ALL_PERMISSIONS for p in wanted):
        errors.add("extensions", "Given permissions don't exist.", "INVALID_PERMISSION")
    elif any(p not in app_permissions for p in wanted):
        errors.add("extensions", "Extension permission must be listed in App's permissions.", "OUT_OF_SCOPE_PERMISSION")
    if version.checks_extension_options:
        problem = _options_problem(ext.get("options") or {}, target)
        if problem:
            errors.add("extensions", f"Invalid options field: {problem}", "INVALID")


def _extension_url_ok(version: SaleorVersion, manifest: dict, ext: dict, target: str) -> bool:
    url = ext.get("url")
    if not isinstance(url, str):
        return False
    if version.at_least("3.23.0"):
        return bool(manifest.get("appUrl")) if url.startswith("/") else _valid_url(url)
    if version.at_least("3.22.0") and not manifest.get("tokenTargetUrl"):
        return False
    if url.startswith("/"):
        if target == "APP_PAGE":
            return True
        return bool(manifest.get("appUrl")) and _valid_url(manifest["appUrl"])
    if target == "APP_PAGE":
        return False
    options = ext.get("options") or {}
    posts = (target == "NEW_TAB" and (options.get("newTabTarget") or {}).get("method") == "POST") or (
        target == "WIDGET" and (options.get("widgetTarget") or {}).get("method") == "POST"
    )
    if version.at_least("3.22.0") and posts:
        # ENABLE_SSL is off in the emulated Saleor, so http:// is fine; the host must be the app's.
        return urlsplit(url).hostname == urlsplit(manifest["tokenTargetUrl"]).hostname
    return _valid_url(url)


def _options_problem(options: Any, target: str) -> str | None:
    """3.22's ``AppExtensionOptions`` (pydantic) and the target checks of ``_clean_extension_options``."""
    if not isinstance(options, dict):
        return "options must be an object"
    chosen = {key: options.get(key) for key in ("newTabTarget", "widgetTarget") if options.get(key) is not None}
    for key, value in chosen.items():
        if not isinstance(value, dict) or value.get("method") not in ("GET", "POST"):
            return f"{key}.method must be GET or POST"
    if len(chosen) > 1:
        return "Only one of 'newTabTarget' or 'widgetTarget' can be set."
    if "widgetTarget" in chosen and target != "WIDGET":
        return "widgetTarget options must be set only on WIDGET target"
    if "newTabTarget" in chosen and target != "NEW_TAB":
        return "newTabTarget options must be set only on NEW_TAB target"
    return None


def _check_webhook(version: SaleorVersion, wh: dict, errors: ManifestErrors) -> None:
    if not version.at_least("3.23.0") and not isinstance(wh.get("isActive", True), bool):
        errors.add("webhooks", "Incorrect value for field: isActive.", "INVALID")
    for key, message in (("asyncEvents", "Invalid asynchronous event."), ("syncEvents", "Invalid synchronous event.")):
        for name in wh.get(key) or []:
            if not is_event_type(name, asynchronous=key == "asyncEvents", schema_version=version.schema_version):
                errors.add("webhooks", message, "INVALID")
    problems = validate_subscription_query(wh["query"], version.schema_version)
    if problems:
        errors.add("webhooks", "Subscription query is not valid: " + problems[0], "INVALID")
    if not _valid_url(wh.get("targetUrl"), ("http", "https", "awssqs", "gcpubsub")):
        errors.add("webhooks", "Invalid target url.", "INVALID_URL_FORMAT")


def install(
    emulator: SaleorEmulator,
    manifest_url: str,
    *,
    permissions: list[str] | None = None,
    activate: bool = True,
    app_name: str | None = None,
) -> InstallResult:
    try:
        manifest = fetch_manifest(emulator, manifest_url)
        perms = list(permissions if permissions is not None else manifest.get("permissions") or [])
        validate_manifest(emulator, manifest, perms)
    except InstallError as exc:
        return InstallResult(None, None, "FAILED", str(exc), None, exc.code, exc.fields)

    st = emulator.state
    with st.lock:
        app = App(
            pk=st.next_id("app"),
            identifier=manifest["id"],
            name=app_name or manifest["name"],
            permissions=perms,
            token=generate_app_token(),
            is_active=activate,
            version=manifest.get("version"),
            about=manifest.get("about"),
            app_url=manifest.get("appUrl"),
            manifest_url=manifest_url,
            token_target_url=manifest.get("tokenTargetUrl"),
            audience=manifest.get("audience"),
            manifest=manifest,
        )
        for wh in manifest.get("webhooks") or []:
            async_events = list(wh.get("asyncEvents") or [])
            sync_events = list(wh.get("syncEvents") or [])
            if not async_events and not sync_events:
                async_events = [
                    camel_to_event(t) for t in subscription_event_types(wh["query"], emulator.version.schema_version)
                ]
            app.webhooks.append(
                Webhook(
                    pk=st.next_id("webhook"),
                    app_pk=app.pk,
                    name=wh["name"],
                    target_url=wh["targetUrl"],
                    query=wh["query"],
                    async_events=async_events,
                    sync_events=sync_events,
                    is_active=wh.get("isActive", True),
                    custom_headers=dict(wh.get("customHeaders") or {}),
                )
            )
        st.apps[app.pk] = app

    response = None
    target = manifest.get("tokenTargetUrl")
    if target:
        headers = {
            "Content-Type": "application/json",
            "X-Saleor-Domain": emulator.domain,
            "Saleor-Domain": emulator.domain,
            "Saleor-Api-Url": emulator.api_url,
            "Saleor-Schema-Version": emulator.version.schema_version,
        }
        body = json.dumps({"auth_token": app.token}).encode("utf-8")
        try:
            response = send_saleor_request(
                "POST",
                target,
                headers,
                body,
                timeout=emulator.delivery_timeout,
                host_without_port=emulator.host_header_without_port,
                user_agent=emulator.version.user_agent,
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
