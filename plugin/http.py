"""Small HTTP helpers shared by the blueprints: JSON errors and safe body parsing."""
from __future__ import annotations

import json

from flask import jsonify, request


def json_error(status: int, code: str, message: str, **extra):
    payload = {"error": {"code": code, "message": message, **extra}}
    return jsonify(payload), status


def read_json_body() -> tuple[object | None, str | None]:
    """(parsed JSON, None) or (None, human-readable problem). Never raises."""
    raw = request.get_data(cache=True)
    if not raw:
        return None, "Empty body; expected JSON."
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError):
        return None, "Body is not valid JSON."
