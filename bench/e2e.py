"""End to end: a referred order paid in Saleor → both reward e-mails accepted by the SMTP server.

Production shape on loopback: the Saleor emulator (50 ms added to every GraphQL call),
gunicorn -w 2 serving the app, a Celery worker (prefork, with beat) on a private Redis,
PostgreSQL, and an aiosmtpd server that timestamps each message it accepts.

Two phases, each measured on its own (CPU by process, SQL statements the worker sends,
PostgreSQL transactions, Saleor calls, all per order): plain paid orders (the buyer is enrolled
as an advocate and invited), then referred orders. Orders are paid at a steady rate (open loop: order i at t0 + i/rate, whatever
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
from email.utils import parseaddr
from pathlib import Path

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

    def first_arrival_by_recipient(self) -> dict[str, float]:
        found: dict[str, float] = {}
        with self._lock:
            arrivals = list(self.arrivals)
        for at, raw in arrivals:
            message = email.message_from_bytes(raw, policy=policy.default)
            found.setdefault(parseaddr(str(message.get("To", "")))[1].lower(), at)
        return found

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


class Phase:
    """What one measured phase costs: CPU by process, SQL statements, PostgreSQL transactions and
    Saleor calls, taken as differences between start() and stop()."""

    def __init__(self, *, web, worker, database_url: str, saleor, concurrency: int, profile: Path | None = None):
        self.worker, self.database_url, self.saleor = worker, database_url, saleor
        self.profile = env.Profile(worker.proc.pid, profile) if profile else None
        self.meter = env.CpuMeter(
            {
                "celery main process (consumer, pool dispatch, relay)": worker.main_pid,
                f"celery prefork children ({concurrency}) and beat": worker.child_pids,
                "postgresql backends": lambda: env.postgres_backends(database_url),
                "gunicorn (2 workers)": lambda: env.process_tree(web.proc.pid),
                "bench process (emulator, SMTP server, driver)": lambda: [os.getpid()],
            }
        )

    def start(self) -> Phase:
        self.load_before = env.load_average()
        self.sql_before = self.worker.sql_statements()
        self.db_before = env.database_activity(self.database_url)
        self.tables_before = env.table_reads(self.database_url)
        self.calls_before = len(self.saleor.requests)
        if self.profile:
            self.profile.__enter__()
        self.meter.start()
        return self

    def stop(self, orders: int) -> dict:
        cpu = self.meter.stop()
        if self.profile:
            self.profile.__exit__(None, None, None)
        time.sleep(1.5)  # PostgreSQL publishes a backend's counters at most once a second
        db_after = env.database_activity(self.database_url)
        tables = env.table_reads(self.database_url)
        reads = {
            name: (
                round((rows - self.tables_before.get(name, (0, 0))[0]) / max(orders, 1), 1),
                round((scans - self.tables_before.get(name, (0, 0))[1]) / max(orders, 1), 2),
            )
            for name, (rows, scans) in tables.items()
        }
        sql_after = self.worker.sql_statements()
        per = max(orders, 1)
        worker_cpu = sum(v for k, v in cpu.items() if k.startswith("celery"))
        return {
            "cpu_seconds": cpu,
            "worker_cpu_per_order": round(worker_cpu / per, 4),
            "sql_statements_per_order_worker": (
                None if sql_after is None else round((sql_after - self.sql_before) / per, 1)
            ),
            "database_per_order": {k: round((db_after[k] - self.db_before[k]) / per, 1) for k in db_after},
            # table → (rows read, sequential scans) per order, the five tables read most
            "table_reads_per_order": dict(sorted(reads.items(), key=lambda kv: -kv[1][0])[:5]),
            "saleor_calls_per_order": _calls_per_order(self.saleor.requests[self.calls_before :], orders),
            "load_average": {"before": self.load_before, "after": env.load_average()},
            **({"profile": self.profile.summary()} if self.profile else {}),
        }


def _open_loop(rate: float, count: int, work) -> float:
    """Call work(i) for i < count, the i-th at t0 + i / rate, each in a thread; seconds taken."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for i in range(count):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(work, i)
    return round(time.monotonic() - started, 2)


def _count_sent(engine, kinds: tuple[str, ...]) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM outbound_emails WHERE status = 'sent' AND kind = ANY(:k)"),
            {"k": list(kinds)},
        ).scalar()


def run(
    *,
    rate: float = 10,
    seconds: float = 15,
    advocates: int = 20,
    plain_orders: int | None = None,
    saleor_latency: float = 0.05,
    concurrency: int = 8,
    drain_timeout: float | None = None,
    profile_dir: Path | None = None,
    log=print,
) -> dict:
    """Two measured phases at `rate` orders/s: plain paid orders (each buyer enrolled as an advocate
        and invited), then referred orders (attribution, both rewards, both e-mails, and the friend
        enrolled and invited too). `profile_dir`: py-spy samples the worker during each phase (CPU
    figures then include py-spy's own overhead in the sampled processes: take them from a run without)."""
    from tests.saleor_emulator import SaleorEmulator

    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    orders_total = int(rate * seconds)
    plain_total = max(plain_orders if plain_orders is not None else orders_total, advocates)
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
            env.Analyzer(database_url),
            env.Gunicorn("plugin:create_app()", environment, port=port) as web,
            env.CeleryWorker(environment, concurrency=concurrency, count_sql=True) as worker,
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
            # A few orders first, unmeasured, so every process has its connections and imports.
            for i in range(4):
                order = saleor.create_order(
                    f"warmup{i}@example.org", total="30.00", paid=True, shipping_address=_address("Wim")
                )
                saleor.checkout_complete(order, retry=True)
            _wait(lambda: _count_sent(engine, ("invite",)) >= 4, 60)
            saleor.faults.latency = saleor_latency

            def new_phase(kind: str) -> Phase:
                return Phase(
                    web=web,
                    worker=worker,
                    database_url=database_url,
                    saleor=saleor,
                    concurrency=concurrency,
                    profile=profile_dir / f"{kind}-{rate:g}.txt" if profile_dir else None,
                )

            plain_paid_at: dict[str, float] = {}
            failures: list[str] = []

            def plain_order(i: int) -> None:
                try:
                    order = saleor.create_order(
                        f"advocate{i}@example.com",
                        first_name=f"Ada{i}",
                        total="60.00",
                        paid=True,
                        shipping_address=_address("Ada"),
                    )
                    for delivery in saleor.checkout_complete(order, deliver=False):
                        if delivery.event == "ORDER_FULLY_PAID":
                            plain_paid_at[f"advocate{i}@example.com"] = time.monotonic()
                        delivery.send(retry=True)
                except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                    failures.append(f"plain {type(exc).__name__}: {exc}")

            log(f"  paying {plain_total} plain orders at {rate:.0f}/s (each buyer becomes an advocate) ...")
            phase = new_phase("plain")
            phase.start()
            report["plain_driving_s"] = _open_loop(rate, plain_total, plain_order)
            _wait(lambda: _count_sent(engine, ("invite",)) >= 4 + plain_total, max(120.0, plain_total * 1.0))
            report["plain"] = phase.stop(plain_total)
            report["plain"]["orders"] = plain_total
            invited = smtp.first_arrival_by_recipient()
            plain_latency = Result("paid → invitation")
            plain_missing = 0
            for address, t0 in plain_paid_at.items():
                if address in invited:
                    plain_latency.latencies.append(invited[address] - t0)
                else:
                    plain_missing += 1
            report["plain"].update(
                {
                    "invitations_missing": plain_missing,
                    "p50_s": _seconds(plain_latency.percentile(50)),
                    "p95_s": _seconds(plain_latency.percentile(95)),
                }
            )
            log(f"  plain: {report['plain']}")

            with engine.connect() as conn:
                advocate_codes = (
                    conn.execute(text("SELECT code FROM advocates WHERE email LIKE 'advocate%' ORDER BY id"))
                    .scalars()
                    .all()[:advocates]
                )
            if len(advocate_codes) < advocates:
                raise RuntimeError(f"advocates were not created:\n{worker.log_tail()}")

            paid_at: dict[str, float] = {}

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
            phase = new_phase("referred")
            phase.start()
            report["driving_s"] = _open_loop(rate, orders_total, referred_order)

            def settled():
                # Both rewards and the friend's own invitation: the whole of a referred order's work.
                return (
                    _count_sent(engine, ("referrer_reward", "friend_reward")) >= 2 * orders_total
                    and _count_sent(engine, ("invite",)) >= 4 + plain_total + orders_total
                )

            _wait(settled, drain_timeout or max(180.0, orders_total * 1.0))
            report["referred"] = phase.stop(orders_total)
            # The keys the report has always had, for the referred orders.
            report["cpu_seconds"] = report["referred"]["cpu_seconds"]
            report["saleor_calls_per_order"] = report["referred"]["saleor_calls_per_order"]
            report["load_average"] = report["referred"]["load_average"]
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
                reward_mails = dict(
                    conn.execute(
                        text(
                            "SELECT kind, count(*) FROM outbound_emails"
                            " WHERE kind IN ('referrer_reward', 'friend_reward') GROUP BY kind"
                        )
                    ).all()
                )
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
            # Doubled: more than two reward coupons for one order, or more reward e-mails than orders x 2.
            doubled = sum(1 for codes in codes_by_order.values() if len(codes) > 2)
            doubled += max(0, sum(reward_mails.values()) - 2 * orders_total)
            summary = result.summary()
            report.update(
                {
                    "completed": len(result.latencies),
                    "missing": missing,
                    "doubled": doubled,
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
