"""The served widget: `static/widget.src.js` with `static/widget.css` inlined, both minified.

The readable sources are what we edit; the minified bundle is built once per
process (rjsmin/rcssmin are deterministic, so every process serves the same
bytes and the same ETag).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import rcssmin
import rjsmin

STATIC = Path(__file__).with_name("static")
CSS_PLACEHOLDER = '"__WIDGET_CSS__"'


@dataclass(frozen=True)
class Bundle:
    body: bytes
    etag: str


@lru_cache(maxsize=1)
def widget_bundle() -> Bundle:
    source = (STATIC / "widget.src.js").read_text(encoding="utf-8")
    css = rcssmin.cssmin((STATIC / "widget.css").read_text(encoding="utf-8"))
    if CSS_PLACEHOLDER not in source:
        raise RuntimeError("widget.src.js lost its CSS placeholder")
    body = rjsmin.jsmin(source).replace(CSS_PLACEHOLDER, json.dumps(css)).encode("utf-8")
    return Bundle(body, hashlib.sha256(body).hexdigest()[:20])
