"""Small HTTP helpers shared by the blueprints: JSON errors and safe body parsing."""
from __future__ import annotations

import json

from flask import jsonify, request


def json_error(status: int, code: str, message: str, **extra):
    payload = {"error": {"code": code, "message": message, **extra}}
    return jsonify(payload), status


def parse_json(raw: bytes | str):
    """json.loads, but JSON nested too deep for Python's parser is a ValueError like any bad JSON
    (the parser recurses: a few thousand `[` would otherwise end in a RecursionError and a 500)."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def read_json_body() -> tuple[object | None, str | None]:
    """(parsed JSON, None) or (None, human-readable problem). Never raises."""
    raw = request.get_data(cache=True)
    if not raw:
        return None, "Empty body; expected JSON."
    try:
        return parse_json(raw), None
    except (ValueError, UnicodeDecodeError):
        return None, "Body is not valid JSON."
