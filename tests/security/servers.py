"""Small hostile HTTP servers on loopback, standing in for a "Saleor" an attacker points the app at.

Each counts what it received and what it sent; every loop is bounded in bytes and seconds and ends
when the client goes away, so nothing outlives its test.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP_ID_ANSWER = json.dumps({"data": {"app": {"id": "QXBwOjE="}}}).encode()


class HostileServer:
    """`routes` maps (method, path) to a function(handler, server) that writes the whole answer."""

    def __init__(self, routes: dict):
        self.routes = routes
        self.requests: list[tuple[str, str]] = []
        self.bytes_sent = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with outer._lock:
                    outer.requests.append((self.command, self.path))
                route = outer.routes.get((self.command, self.path))
                try:
                    if route is None:
                        outer.send(self, 404, b"{}")
                    else:
                        route(self, outer)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass
                self.close_connection = True

            do_GET = do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self, n: int) -> None:
        with self._lock:
            self.bytes_sent += n

    def send(self, handler, status: int, body: bytes, headers: dict | None = None) -> None:
        handler.send_response(status)
        for name, value in {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            **(headers or {}),
        }.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        self.count(len(body))


def app_id(handler, server) -> None:
    server.send(handler, 200, APP_ID_ANSWER)


def redirect_to(url: str):
    def route(handler, server):
        server.send(handler, 307, b"", {"Location": url})

    return route


def drip(seconds: float = 30.0, every: float = 0.2):
    """200 OK with a long body, one byte at a time: no single read ever waits long."""

    def route(handler, server):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "1000000")
        handler.end_headers()
        handler.wfile.write(b'{"data": {"app": {"id": "')
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            handler.wfile.write(b"A")
            handler.wfile.flush()
            server.count(1)
            time.sleep(every)

    return route


def huge_jwks(total: int = 200 * 1024 * 1024, *, declare_length: bool):
    """A valid JSON JWKS of `total` bytes, generated as it is sent."""
    head, tail = b'{"keys": [], "padding": "', b'"}'

    def route(handler, server):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declare_length:
            handler.send_header("Content-Length", str(total))
        handler.end_headers()
        handler.wfile.write(head)
        server.count(len(head))
        chunk = b"x" * (1024 * 1024)
        left = total - len(head) - len(tail)
        while left > 0:
            piece = chunk[: min(left, len(chunk))]
            handler.wfile.write(piece)
            server.count(len(piece))
            left -= len(piece)
        handler.wfile.write(tail)
        server.count(len(tail))

    return route
