"""The baseline: a bare Flask endpoint answering 200, served by the same gunicorn command.

gunicorn -w 2 'bench.baseline_app:app'
"""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/api/webhooks/saleor")
def webhook():
    request.get_data()  # read the body, as the real endpoint must
    return jsonify({"ok": True}), 200


@app.get("/healthz")
def healthz():
    return jsonify({"ok": True})
