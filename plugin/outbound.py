"""HTTP sessions for calls to servers someone else chose (a Saleor that installs the app, a URL a
merchant typed): what such a server can make us do is bounded.

    session = guarded_session(max_bytes=8192, address_policy={"allow_loopback": False, "allow_private": False})
    session.get(url, timeout=5)          # 5 s for the whole call, not per read

* **No redirects**: a 3xx answer raises `RedirectRefused`; its Location is never requested.
* **Capped bodies**: a declared Content-Length over `max_bytes` is refused before the body is read;
  an undeclared one is read up to `max_bytes + 1` bytes and then refused (`ResponseTooLarge`).
* **A total deadline**: `timeout` bounds the whole call (connect, send, headers, body). A server
  that trickles a byte a second has its socket shut when the time is up (`DeadlineExceeded`, a
  `requests.Timeout`). `deadline(seconds)` bounds every call made inside it, for a request that
  makes several calls (an install).
* **Addresses**: with `address_policy`, the address each new connection reached is checked with
  `plugin.netpolicy.check_address` (`AddressRefused`), so a host name that resolves to loopback or
  a private network a moment after it was checked gains nothing. A proxy set in the environment
  is the operator's choice and is not checked.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import socket
import threading
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from plugin.netpolicy import UrlRefused, check_address

_local = threading.local()


class RedirectRefused(requests.RequestException):
    """The server answered with a redirect; we do not follow redirects."""


class ResponseTooLarge(requests.RequestException):
    """The body is larger than this kind of call may be."""


class AddressRefused(requests.RequestException):
    """The connection reached an address the policy refuses (loopback, private, ...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class DeadlineExceeded(requests.Timeout):
    """The call did not finish within its total time."""


@contextlib.contextmanager
def deadline(seconds: float):
    """Every guarded call made inside the block ends by `seconds` from now (nested: the earliest wins)."""
    outer = getattr(_local, "deadline", None)
    mine = time.monotonic() + seconds
    _local.deadline = mine if outer is None else min(outer, mine)
    try:
        yield
    finally:
        _local.deadline = outer


def remaining() -> float | None:
    """Seconds left of the enclosing `deadline` block (None outside one)."""
    end = getattr(_local, "deadline", None)
    return None if end is None else end - time.monotonic()


class _Deadlines:
    """One thread per process that expires every watchdog whose time is up (a timer thread per call
    cost more than a short Saleor call itself)."""

    def __init__(self):
        self._heap: list[tuple[float, int, _Watchdog]] = []
        self._seq = 0
        self._wake = threading.Condition()
        threading.Thread(target=self._run, name="outbound-deadlines", daemon=True).start()

    def add(self, at: float, watchdog: _Watchdog) -> None:
        with self._wake:
            self._seq += 1
            heapq.heappush(self._heap, (at, self._seq, watchdog))
            if self._heap[0][2] is watchdog:  # the new earliest: the thread must wait less
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._wake.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _at, _seq, watchdog = heapq.heappop(self._heap)
            watchdog._expire()


_deadlines: tuple[int, _Deadlines] | None = None
_deadlines_lock = threading.Lock()


def _deadline_thread() -> _Deadlines:
    global _deadlines
    pid = os.getpid()
    if _deadlines is None or _deadlines[0] != pid:  # a forked child has none of its parent's threads
        with _deadlines_lock:
            if _deadlines is None or _deadlines[0] != pid:
                _deadlines = (pid, _Deadlines())
    return _deadlines[1]


class _Watchdog:
    """Shuts the sockets of one call when its time is up, so a blocked read returns at once."""

    def __init__(self, seconds: float):
        self.expired = False
        self._done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._seconds = max(seconds, 0.0)

    def __enter__(self) -> _Watchdog:
        self._outer = getattr(_local, "watchdog", None)
        _local.watchdog = self
        _deadline_thread().add(time.monotonic() + self._seconds, self)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:  # a call that finished right at its deadline keeps its pooled connection
            self._done = True
            self._sockets = []
        _local.watchdog = self._outer

    def watch(self, sock) -> None:
        with self._lock:
            if not self.expired:
                self._sockets.append(sock)
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)


def _shut(sock) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's: also under TLS
    except (OSError, TypeError):
        pass


class _GuardedConnectionMixin:
    address_policy: dict | None = None

    def _new_conn(self):
        sock = super()._new_conn()
        if self.address_policy is not None and not self.proxy:
            try:
                check_address(sock.getpeername()[0], **self.address_policy)
            except UrlRefused:
                sock.close()
                raise
        return sock

    def request(self, *args, **kwargs):
        super().request(*args, **kwargs)
        watchdog = getattr(_local, "watchdog", None)
        if watchdog is not None and self.sock is not None:
            watchdog.watch(self.sock)


def _pool_classes(address_policy: dict | None) -> dict:
    conn = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), {"address_policy": address_policy})
    tls = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), {"address_policy": address_policy})
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": conn}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
    }


def _total(timeout) -> float | None:
    if isinstance(timeout, tuple):
        parts = [t for t in timeout if t is not None]
        return max(parts) if parts else None
    return timeout


class GuardedAdapter(HTTPAdapter):
    def __init__(self, *, max_bytes: int, address_policy: dict | None = None, **kwargs):
        self.max_bytes = max_bytes
        self.address_policy = address_policy
        super().__init__(max_retries=0, **kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.address_policy)

    def send(self, request, stream=False, timeout=None, **kwargs):
        limits = [t for t in (_total(timeout), remaining()) if t is not None]
        seconds = min(limits) if limits else 30.0
        if seconds <= 0:
            raise DeadlineExceeded("no time left for this call", request=request)
        with _Watchdog(seconds) as watchdog:
            try:
                response = super().send(request, stream=True, timeout=seconds, **kwargs)
                if response.is_redirect:
                    response.close()
                    raise RedirectRefused(f"HTTP {response.status_code} redirect refused", request=request)
                response._content = self._read_capped(response)
            except UrlRefused as exc:
                raise AddressRefused(exc.reason) from None
            except (requests.RequestException, OSError) as exc:
                if watchdog.expired and not isinstance(exc, (RedirectRefused, ResponseTooLarge)):
                    raise DeadlineExceeded(f"no answer within {seconds:.1f} s", request=request) from None
                raise
        return response

    def _read_capped(self, response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response.close()
            raise ResponseTooLarge(f"answer of {declared} bytes refused (limit {self.max_bytes})")
        body = bytearray()
        for chunk in response.iter_content(min(self.max_bytes + 1, 65536)):
            body += chunk
            if len(body) > self.max_bytes:
                response.close()
                raise ResponseTooLarge(f"answer over {self.max_bytes} bytes refused")
        return bytes(body)


def guarded_session(*, max_bytes: int, address_policy: dict | None = None) -> requests.Session:
    """A requests session whose every call follows the rules above."""
    session = requests.Session()
    session.max_redirects = 0
    adapter = GuardedAdapter(max_bytes=max_bytes, address_policy=address_policy)
    for prefix in ("http://", "https://"):
        session.mount(prefix, adapter)
    return session
