"""Small HTTP helpers shared by the blueprints: the API's one error, JSON errors, safe body parsing."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import jsonify, request


class ApiError(Exception):
    """A refusal the caller of our HTTP API sees: status, error code, message and extra fields.

    Raised anywhere below a view; the app's error handler answers `{"error": {"code", "message", ...}}`
    (Saleor's register contract, `{"success": false, "error": {...}}`, on views marked `saleor_contract`).
    """

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.extra = extra

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **self.extra}


def json_error(status: int, code: str, message: str, **extra):
    payload = {"error": {"code": code, "message": message, **extra}}
    return jsonify(payload), status


def saleor_contract(view: Callable) -> Callable:
    """Marks a view Saleor calls with its own error contract: `{"success": false, "error": {...}}`."""
    view.saleor_contract = True
    return view


def error_response(exc: ApiError, *, saleor: bool = False):
    body = {"error": exc.as_dict()}
    response = jsonify({"success": False, **body} if saleor else body)
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


def parse_json(raw: bytes | str):
    """json.loads, but JSON nested too deep for Python's parser is a ValueError like any bad JSON
    (the parser recurses: a few thousand `[` would otherwise end in a RecursionError and a 500)."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def json_body(*, code: str = "INVALID_BODY"):
    """The request's parsed JSON body; ApiError(400, `code`) for an empty or broken one."""
    raw = request.get_data(cache=True)
    if not raw:
        raise ApiError(400, code, "Empty body; expected JSON.")
    try:
        return parse_json(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, code, "Body is not valid JSON.") from None
