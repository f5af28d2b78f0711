"""The real Saleor 3.23.28 deliveries captured in tests/fixtures/saleor/, as test data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

PAYLOADS = Path(__file__).resolve().parent / "fixtures" / "saleor"
CAPTURED_API_URL = "http://localhost:8000/graphql/"
CAPTURED_APP_ID = "QXBwOjI="


@dataclass
class Delivery:
    name: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.headers.get("Saleor-Event", "")


def load(name: str) -> Delivery:
    data = json.loads((PAYLOADS / name).read_text())
    return Delivery(name, data["path"], dict(data["headers"]), data["body"].encode("utf-8"))


def signed_deliveries() -> list[Delivery]:
    deliveries = []
    for path in sorted(PAYLOADS.glob("*__*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "Saleor-Signature" in data.get("headers", {}):
            deliveries.append(load(path.name))
    return deliveries


def captured_jwks() -> str:
    return (PAYLOADS / "jwks.json").read_text()


def post_headers(delivery: Delivery) -> dict[str, str]:
    """The headers to replay a delivery with (Host/Content-Length are set by the client)."""
    return {k: v for k, v in delivery.headers.items() if k.lower() not in {"host", "content-length"}}
