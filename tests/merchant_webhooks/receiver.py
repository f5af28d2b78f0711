"""A merchant's system in the test: a loopback HTTP server that checks our Standard Webhooks
signature with the `standardwebhooks` library, as a receiver would, and keeps what it accepted."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import free_port


@dataclass
class Received:
    webhook_id: str
    body: bytes
    headers: dict
    payload: dict


class Receiver:
    """`start()` listens, `stop()` closes the port (connection refused), `status` is the answer."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.secrets: list[str] = []  # a request verifies if any of these secrets accepts it
        self.status = 200
        self.headers: dict[str, str] = {}  # extra answer headers (a Location, ...)
        self.answer: bytes | None = None  # the answer's body (default: "ok" / "no")
        self.received: list[Received] = []
        self.refused: list[str] = []  # why a request did not verify
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/referrals"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload, problem = receiver.status, None, None
                for secret in list(receiver.secrets):
                    try:
                        payload = Webhook(secret).verify(body, headers)
                        break
                    except WebhookVerificationError as exc:
                        problem = str(exc)
                with receiver.lock:
                    if payload is None:
                        receiver.refused.append(problem or "no secret")
                        status = 401
                    elif 200 <= status < 300:
                        receiver.received.append(Received(headers["webhook-id"], body, headers, payload))
                answer = receiver.answer if receiver.answer is not None else b"ok" if status < 300 else b"no"
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(answer)))
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        with self.lock:
            return [r.webhook_id for r in self.received]

    def events(self) -> list[str]:
        with self.lock:
            return [r.payload["type"] for r in self.received]

    def of_type(self, event_type: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.payload["type"] == event_type]
