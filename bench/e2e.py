"""End to end: a referred order paid in Saleor → both reward e-mails accepted by the SMTP server.

Production shape on loopback: the Saleor emulator (50 ms added to every GraphQL call),
gunicorn -w 2 serving the app, a Celery worker (prefork, with beat) on a private Redis,
PostgreSQL, and an aiosmtpd server that timestamps each message it accepts.

Referred orders are paid at a steady rate (open loop: order i at t0 + i/rate, whatever
happened to the earlier ones). For each, the clock starts when the emulator starts sending
its ORDER_FULLY_PAID delivery and stops when the later of the two reward e-mails (the
friend's WELCOME-… and the advocate's THANKS-… code) is accepted.
"""

from __future__ import annotations

import email
import itertools
import json
import os
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email import policy

from sqlalchemy import create_engine, text

from bench import env
from bench.load import Result

CODE = re.compile(r"\b(?:THANKS|WELCOME)-[A-Z0-9]+\b")
_street = itertools.count(1)


class TimedSMTPSink:
    """aiosmtpd on loopback keeping (arrival time, raw message) of everything it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.arrivals: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self.port = env.free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.arrivals.append((time.monotonic(), envelope.content))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def first_arrival_of_codes(self) -> dict[str, float]:
        found: dict[str, float] = {}
        with self._lock:
            arrivals = list(self.arrivals)
        for at, raw in arrivals:
            message = email.message_from_bytes(raw, policy=policy.default)
            body = message.get_body(preferencelist=("plain",))
            for code in CODE.findall(body.get_content() if body else ""):
                found.setdefault(code, at)
        return found


def _address(first_name: str) -> dict:
    n = next(_street)
    return {
        "firstName": first_name,
        "lastName": "Bench",
        "streetAddress1": f"{n} Bench Street",
        "city": "Riga",
        "postalCode": f"{10000 + n}",
        "country": "LV",
    }


def _wait(predicate, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def run(
    *,
    rate: float = 20,
    seconds: float = 15,
    advocates: int = 20,
    saleor_latency: float = 0.05,
    concurrency: int = 8,
    drain_timeout: float | None = None,
    log=print,
) -> dict:
    from tests.saleor_emulator import SaleorEmulator

    orders_total = int(rate * seconds)
    report: dict = {
        "rate": rate,
        "orders": orders_total,
        "advocates": advocates,
        "saleor_latency_s": saleor_latency,
        "celery_concurrency": concurrency,
    }
    with (
        env.scratch_database() as database_url,
        env.PrivateRedis() as broker,
        TimedSMTPSink() as smtp,
        SaleorEmulator() as saleor,
    ):
        engine = create_engine(database_url)
        port = env.free_port()
        app_url = f"http://127.0.0.1:{port}"
        environment = env.app_env(
            database_url,
            broker.url,
            app_url,
            SMTP_URL=smtp.url,
            SWEEP_INTERVAL="5",
            SWEEP_GRACE="30",
            SALEOR_TIMEOUT="5",
        )
        with (
            env.Gunicorn("plugin:create_app()", environment, port=port) as web,
            env.CeleryWorker(environment, concurrency=concurrency) as worker,
        ):
            installed = saleor.install(f"{web.url}/api/manifest")
            if not installed.ok:
                raise RuntimeError(f"install failed: {installed.message}")
            with engine.begin() as conn:
                tenant_id = conn.execute(text("SELECT id FROM tenants")).scalar()
                # Many friends per advocate is the point here, not the monthly reward cap.
                conn.execute(
                    text(
                        "INSERT INTO program_settings (tenant_id, data, version, updated_at)"
                        " VALUES (:t, :data, 1, now())"
                    ),
                    {
                        "t": tenant_id,
                        "data": json.dumps(
                            {"caps": {"rewards_per_advocate_30d": 100000, "claims_per_code_per_day": 100000}}
                        ),
                    },
                )
            log(f"  making {advocates} advocates through the real flow ...")
            for i in range(advocates):
                order = saleor.create_order(
                    f"advocate{i}@example.com",
                    first_name=f"Ada{i}",
                    total="60.00",
                    paid=True,
                    shipping_address=_address("Ada"),
                )
                saleor.checkout_complete(order, retry=True)

            def codes():
                with engine.connect() as conn:
                    found = (
                        conn.execute(text("SELECT code FROM advocates WHERE email LIKE 'advocate%'")).scalars().all()
                    )
                return found if len(found) == advocates else None

            advocate_codes = _wait(codes, 120)
            if not advocate_codes:
                raise RuntimeError(f"advocates were not created:\n{worker.log_tail()}")
            saleor.faults.latency = saleor_latency

            paid_at: dict[str, float] = {}
            failures: list[str] = []

            def referred_order(i: int) -> None:
                try:
                    order = saleor.create_order(
                        f"friend{i}@example.net",
                        first_name=f"Fred{i}",
                        total="40.00",
                        metadata={"referral_code": advocate_codes[i % advocates]},
                        paid=True,
                        shipping_address=_address("Fred"),
                    )
                    for delivery in saleor.checkout_complete(order, deliver=False):
                        if delivery.event == "ORDER_FULLY_PAID":
                            paid_at[order["id"]] = time.monotonic()
                        delivery.send(retry=True)
                        if not delivery.ok:
                            failures.append(f"{delivery.event}: {delivery.status_code}")
                except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                    failures.append(f"{type(exc).__name__}: {exc}")

            log(f"  paying {orders_total} referred orders at {rate:.0f}/s ...")
            meter = env.CpuMeter(
                {
                    "gunicorn (2 workers)": lambda: env.process_tree(web.proc.pid),
                    f"celery worker ({concurrency} processes)": lambda: env.process_tree(worker.proc.pid),
                    "postgresql backends": lambda: env.postgres_backends(database_url),
                    "bench process (emulator, SMTP server, driver)": lambda: [os.getpid()],
                }
            ).start()
            load_before = env.load_average()
            calls_before = len(saleor.requests)
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=64) as pool:
                for i in range(orders_total):
                    delay = started + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(referred_order, i)
            report["driving_s"] = round(time.monotonic() - started, 2)

            def rewards_sent():
                with engine.connect() as conn:
                    sent = conn.execute(
                        text(
                            "SELECT count(*) FROM outbound_emails WHERE status = 'sent'"
                            " AND kind IN ('referrer_reward', 'friend_reward')"
                        )
                    ).scalar()
                return sent >= 2 * orders_total

            _wait(rewards_sent, drain_timeout or max(180.0, orders_total * 1.0))
            report["cpu_seconds"] = meter.stop()
            report["saleor_calls_per_order"] = _calls_per_order(saleor.requests[calls_before:], orders_total)
            report["load_average"] = {"before": load_before, "after": env.load_average()}
            time.sleep(1)
            arrivals = smtp.first_arrival_of_codes()
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT r.saleor_order_id, c.code FROM referrals r JOIN coupons c ON c.referral_id = r.id"
                        " WHERE c.purpose IN ('referrer_reward', 'friend_reward')"
                    )
                ).all()
                states = dict(conn.execute(text("SELECT state, count(*) FROM referrals GROUP BY state")).all())
            codes_by_order: dict[str, list[str]] = {}
            for order_id, code in rows:
                codes_by_order.setdefault(order_id, []).append(code)
            result = Result("paid → both e-mails")
            missing = 0
            for order_id, t0 in paid_at.items():
                order_codes = codes_by_order.get(order_id, [])
                if len(order_codes) != 2 or any(c not in arrivals for c in order_codes):
                    missing += 1
                    continue
                result.latencies.append(max(arrivals[c] for c in order_codes) - t0)
            summary = result.summary()
            report.update(
                {
                    "completed": len(result.latencies),
                    "missing": missing,
                    "delivery_failures": len(failures),
                    "failure_samples": failures[:5],
                    "referral_states": states,
                    "p50_s": _seconds(result.percentile(50)),
                    "p95_s": _seconds(result.percentile(95)),
                    "p99_s": _seconds(result.percentile(99)),
                    "max_s": _seconds(summary["max_ms"] and summary["max_ms"] / 1000),
                    "saleor_calls": len(saleor.requests),
                    "emails_accepted": len(smtp.arrivals),
                }
            )
            log(f"  {report}")
            report["worker_log"] = str(worker.log_path)
        engine.dispose()
    return report


def _calls_per_order(requests, orders: int) -> dict[str, float]:
    """Saleor calls the app made while the referred orders were processed, per order and by
    operation name (the order read, the friend check, voucher creation, ...)."""
    counts = Counter(r.operation or "(unnamed)" for r in requests)
    return {name: round(count / max(orders, 1), 2) for name, count in counts.most_common()}


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
