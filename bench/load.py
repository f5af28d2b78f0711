"""A small HTTP/1.1 load generator on asyncio (loopback only, bounded in count and time).

* `open_loop(...)`: requests start on a fixed schedule (rate r: request i at t0 + i/r) whether
  or not earlier ones finished, and latency is measured from the *scheduled* start. A slow
  server therefore shows up as latency, not as a quietly lower request rate (no
  coordinated omission).
* `closed_loop(...)`: `concurrency` clients send back to back for `duration` seconds; the
  answer rate is the throughput.

Each request opens its own connection and sends `Connection: close`, like Saleor's webhook
sender (and gunicorn's sync workers close after every response anyway).
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


def raw_post(url: str, headers: dict[str, str], body: bytes) -> bytes:
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the benchmarks only talk to loopback")
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: close",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length", "connection")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Result:
    label: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful (2xx) requests
    statuses: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    wall: float = 0.0
    target_rate: float | None = None

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if s.startswith("2"))

    @property
    def throughput(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    def percentile(self, p: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = math.ceil(p / 100 * len(ordered))  # nearest-rank percentile
        return ordered[min(len(ordered), max(rank, 1)) - 1]

    def summary(self) -> dict:
        ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
        return {
            "label": self.label,
            "sent": self.sent,
            "ok": self.ok,
            "statuses": dict(sorted(self.statuses.items())),
            "wall_s": round(self.wall, 2),
            "target_rate": self.target_rate,
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": ms(self.percentile(50)),
            "p90_ms": ms(self.percentile(90)),
            "p99_ms": ms(self.percentile(99)),
            "max_ms": ms(max(self.latencies) if self.latencies else None),
            "mean_ms": ms(statistics.fmean(self.latencies) if self.latencies else None),
        }


async def _send(host: str, port: int, payload: bytes, timeout: float) -> str:
    async def exchange() -> str:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(payload)
            await writer.drain()
            status_line = await reader.readline()
            await reader.read()  # until the server closes
        finally:
            writer.close()
        parts = status_line.split()
        return parts[1].decode() if len(parts) >= 2 else "bad-response"

    try:
        return await asyncio.wait_for(exchange(), timeout)
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return f"error:{type(exc).__name__}"


def open_loop(url: str, payloads: Sequence[bytes], rate: float, label: str, timeout: float = 10.0) -> Result:
    """Send every payload, request i scheduled at i / rate seconds; latency from the schedule."""
    parts = urlsplit(url)
    result = Result(label, target_rate=rate)

    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05

        async def fire(i: int, scheduled: float):
            status = await _send(parts.hostname, parts.port, payloads[i], timeout)
            done = loop.time()
            result.count(status)
            if status.startswith("2"):
                result.latencies.append(done - scheduled)

        tasks = []
        for i in range(len(payloads)):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(fire(i, scheduled)))
            result.sent += 1
        await asyncio.gather(*tasks)
        result.wall = loop.time() - start

    asyncio.run(main())
    return result


def closed_loop(
    url: str,
    next_payload: Callable[[], bytes | None],
    concurrency: int,
    duration: float,
    label: str,
    timeout: float = 10.0,
) -> Result:
    """`concurrency` clients, each sending its next request as soon as the last one was answered."""
    parts = urlsplit(url)
    result = Result(label)

    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time()
        stop_at = start + duration

        async def client():
            while loop.time() < stop_at:
                payload = next_payload()
                if payload is None:
                    return
                sent = loop.time()
                result.sent += 1
                status = await _send(parts.hostname, parts.port, payload, timeout)
                result.count(status)
                if status.startswith("2"):
                    result.latencies.append(loop.time() - sent)

        await asyncio.gather(*(client() for _ in range(concurrency)))
        result.wall = loop.time() - start

    asyncio.run(main())
    return result


def warm_up(url: str, payloads: Sequence[bytes]) -> None:
    """A few requests first, so every worker has its connections and imports in place."""
    open_loop(url, payloads, rate=50, label="warm-up")


def now() -> float:
    return time.perf_counter()
