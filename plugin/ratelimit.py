"""Rate limits of the public endpoints, kept by Flask-Limiter (moving windows).

With REDIS_URL set the counters live in Redis, so every web process counts together; otherwise
they live in this process (the embedded `make run` setup). If Redis stops answering, counting
falls back to this process (Flask-Limiter's in-memory fallback) rather than refusing everyone or
letting everyone through, and goes back to Redis once it answers again.

    from plugin.ratelimit import limiter
    @bp.post("/somewhere")
    @limiter.limit("10 per minute", on_breach=lambda limit: my_429_page())
    def somewhere(): ...

Every key is a digest: a client address or an e-mail used as a key never sits in Redis (or in
Flask-Limiter's log lines) in clear text. The client address is `request.remote_addr`, which
`TRUSTED_PROXIES` (werkzeug's ProxyFix) makes the visitor's own behind a reverse proxy.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import Flask, request
from flask_limiter import Limiter, RequestLimit


def digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def client_key() -> str:
    return digest("client", request.remote_addr or "unknown")


limiter = Limiter(
    key_func=client_key,
    strategy="moving-window",
    key_prefix="referrals",
    in_memory_fallback_enabled=True,
    headers_enabled=False,
)


def init_app(app: Flask, redis_url: str) -> None:
    """Counters in Redis when `redis_url` is set, in this process otherwise."""
    app.config["RATELIMIT_STORAGE_URI"] = redis_url or "memory://"
    if redis_url:
        # A Redis that stops answering must cost a request half a second, not a minute.
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    limiter.init_app(app)


def retry_after(limit: RequestLimit) -> str:
    """Seconds until the breached limit lets the next request through (for `Retry-After`)."""
    return str(max(1, math.ceil(limit.reset_at - time.time())))
