"""`manifest.json` at the repository root is the source; this resolves it for one APP_URL and for
the Saleor that fetches it.

Saleor sends its line in `Saleor-Schema-Version` ("3.21") when it fetches the manifest, and each
line validates manifests its own way (core `saleor/app/manifest_validations.py`): up to 3.22 an
extension's mount and target must be members of that line's enums, and 3.21 knows neither WIDGET
targets nor `*_WIDGETS` mounts. `manifest.json` declares what the newest lines accept; for a line
without widgets each widget is declared the way that line knows: a POPUP in the same page's
"more actions" menu (the same page works in both frames, see `plugin/admin/views.py`). A missing,
unreadable or unknown header gets the most compatible manifest, which every line since 3.21 accepts.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from plugin import __version__

ROOT = Path(__file__).resolve().parents[2]

# The first line with WIDGET targets and `*_WIDGETS` mounts (3.22.0).
WIDGETS_SINCE = (3, 22)
# Where a widget goes on a line without widgets: the "more actions" menu of the same page.
MORE_ACTIONS_FOR_WIDGETS = {
    "ORDER_DETAILS_WIDGETS": "ORDER_DETAILS_MORE_ACTIONS",
    "PRODUCT_DETAILS_WIDGETS": "PRODUCT_DETAILS_MORE_ACTIONS",
    "CUSTOMER_DETAILS_WIDGETS": "CUSTOMER_DETAILS_MORE_ACTIONS",
}
_SCHEMA_VERSION = re.compile(r"^\s*(\d{1,3})\.(\d{1,3})\s*$")


@cache
def _template() -> str:
    return (ROOT / "manifest.json").read_text()


def saleor_line(schema_version: str | None) -> tuple[int, int] | None:
    """(major, minor) from a `Saleor-Schema-Version` value, None when absent or unreadable."""
    match = _SCHEMA_VERSION.match(schema_version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def has_widgets(line: tuple[int, int] | None) -> bool:
    """Only a known major (3) from 3.22 on: anything else gets the most compatible manifest."""
    return line is not None and line[0] == 3 and line >= WIDGETS_SINCE


def build_manifest(app_url: str, schema_version: str | None = None) -> dict:
    """The manifest for `app_url`, fitted to the Saleor line named by `schema_version`."""
    manifest = _resolved(app_url.rstrip("/"))
    if not has_widgets(saleor_line(schema_version)):
        manifest["extensions"] = [_without_widget(ext) for ext in manifest["extensions"]]
    return manifest


def _without_widget(extension: dict) -> dict:
    if extension.get("target") != "WIDGET":
        return extension
    fitted = {key: value for key, value in extension.items() if key != "options"}
    fitted["target"] = "POPUP"
    fitted["mount"] = MORE_ACTIONS_FOR_WIDGETS[extension["mount"]]
    return fitted


def _resolved(app_url: str) -> dict:
    raw = _template().replace("{APP_URL}", app_url).replace("{VERSION}", __version__)
    manifest = json.loads(raw)
    for webhook in manifest["webhooks"]:
        if webhook["query"].startswith("@"):
            webhook["query"] = (ROOT / webhook["query"][1:]).read_text()
    return manifest
