"""Fixed-window rate limits shared by every public endpoint.

With REDIS_URL set the counters live in Redis, so every web process counts
together; otherwise they live in this process (the embedded `make run` setup).
If Redis stops answering, counting falls back to this process rather than
refusing everyone or letting everyone through.

    from plugin.ratelimit import client_ip, hit
    if not hit("claim", client_ip(), limit=10, window=60).allowed:
        ...answer 429...

Keys are hashed before they are stored, so an e-mail used as a key never sits
in Redis in clear text.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass

from flask import current_app, request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the current window ends

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if not self.allowed else {}


def _window(window: int, now: float) -> tuple[int, int]:
    """(index of the current window, seconds until it ends)."""
    index = int(now // window)
    return index, max(1, int((index + 1) * window - now))


def _digest(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()[:32]


class MemoryLimiter:
    """Counters in a dict; old windows are dropped as new ones start."""

    def __init__(self, clock=time.time):
        self._clock = clock
        self._counts: dict[tuple[str, int, int], int] = {}
        self._lock = threading.Lock()
        self._last_prune = 0.0

    def hit(self, scope: str, key: str, limit: int, window: int) -> Verdict:
        now = self._clock()
        index, retry_after = _window(window, now)
        slot = (_digest(scope, key), window, index)
        with self._lock:
            if now - self._last_prune > 60:
                self._prune(now)
            count = self._counts.get(slot, 0) + 1
            self._counts[slot] = count
        return Verdict(count <= limit, count, limit, retry_after)

    def _prune(self, now: float) -> None:
        self._last_prune = now
        for slot in [s for s in self._counts if s[2] < int(now // s[1])]:
            del self._counts[slot]

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class RedisLimiter:
    """INCR + EXPIRE on one key per window; falls back to memory when Redis is unreachable."""

    def __init__(self, url: str, fallback: MemoryLimiter | None = None, clock=time.time):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._fallback = fallback or MemoryLimiter(clock)
        self._clock = clock
        self._warned_at = 0.0

    def hit(self, scope: str, key: str, limit: int, window: int) -> Verdict:
        now = self._clock()
        index, retry_after = _window(window, now)
        name = f"rl:{_digest(scope, key)}:{window}:{index}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, window + 1)
            count = int(pipe.execute()[0])
        except Exception as exc:  # noqa: BLE001 - any Redis failure: count locally instead
            if now - self._warned_at > 60:
                self._warned_at = now
                log.warning("rate limiter: Redis unavailable (%s); counting in this process", type(exc).__name__)
            return self._fallback.hit(scope, key, limit, window)
        return Verdict(count <= limit, count, limit, retry_after)

    def reset(self) -> None:
        self._fallback.reset()
        try:
            for name in self._redis.scan_iter("rl:*"):
                self._redis.delete(name)
        except Exception:  # noqa: BLE001
            pass


_LOCK = threading.Lock()


def limiter():
    """The app's limiter, created on first use from its configuration."""
    app = current_app._get_current_object()
    found = app.extensions.get("rate_limiter")
    if found is not None:
        return found
    with _LOCK:
        found = app.extensions.get("rate_limiter")
        if found is None:
            cfg = app.config["SETTINGS"]
            found = RedisLimiter(cfg.redis_url) if cfg.redis_url else MemoryLimiter()
            app.extensions["rate_limiter"] = found
    return found


def hit(scope: str, key: str, *, limit: int, window: int) -> Verdict:
    """Count one event for `key` in `scope`; `allowed` is False past `limit` per `window` seconds."""
    return limiter().hit(scope, key, limit, window)


def client_ip() -> str:
    """The caller's address as the WSGI server saw it.

    Behind a reverse proxy, wrap the app in werkzeug's ProxyFix so this is the
    client and not the proxy (see README, "Deployment").
    """
    return request.remote_addr or "unknown"
