"""Webhook ingest: signed ORDER_FULLY_PAID deliveries against the production web setup.

App:      gunicorn -w 2 'plugin:create_app()'  (REDIS_URL → Celery enqueue, PostgreSQL)
Baseline: gunicorn -w 2 'bench.baseline_app:app'  (a bare Flask endpoint answering 200)

Every body is the captured `order_fully_paid__A__3.json` delivery with a fresh order id,
number, e-mail and `issuedAt`, signed like Saleor (detached RS256 JWS) with the key whose
JWKS the tenant row holds; so every request is a new, valid, non-duplicate delivery.
No Celery worker runs: the measured path ends when the delivery is a durable row in PostgreSQL
(which is what acknowledging means; the relay in the Celery worker hands rows to Redis).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from itertools import count, cycle

from sqlalchemy import create_engine, text

from bench import env, load

PAYLOADS = env.ROOT / "tests" / "fixtures" / "saleor"
TEMPLATE = PAYLOADS / "order_fully_paid__A__3.json"
API_URL = "http://127.0.0.1:9/graphql/"  # never called: the stored JWKS verifies every signature
WEBHOOK_PATH = "/api/webhooks/saleor"
SATURATION_CEILING = 900  # answers/s the app cannot reach on a small machine

_key = None  # the signing key in each signer process


def _template() -> dict:
    return json.loads(json.loads(TEMPLATE.read_text())["body"])


def _init_signer(pem: bytes) -> None:
    global _key
    from cryptography.hazmat.primitives import serialization

    from tests.saleor_emulator.signing import SigningKey

    _key = SigningKey(serialization.load_pem_private_key(pem, password=None))


def _signed_request(args: tuple[str, str, int]) -> bytes:
    url, template_json, n = args
    from tests.saleor_emulator.signing import sign_detached_jws

    payload = json.loads(template_json)
    order = payload["order"]
    order_uuid = uuid.uuid4()
    order["id"] = base64.b64encode(f"Order:{order_uuid}".encode()).decode()
    order["number"] = str(100000 + n)
    order["userEmail"] = f"friend{n}-{order_uuid.hex[:6]}@example.com"
    order["checkoutId"] = base64.b64encode(f"Checkout:{uuid.uuid4()}".encode()).decode()
    order["metadata"] = [{"key": "referral_code", "value": f"ALICE{n % 97:02d}K"}]
    payload["issuedAt"] = datetime.now(UTC).isoformat()
    body = json.dumps(payload).encode()
    signature = sign_detached_jws(body, _key)
    headers = {
        "User-Agent": "Saleor/3.23",
        "Accept-Encoding": "gzip, deflate",
        "Accept": "*/*",
        "Content-Type": "application/json",
        "X-Saleor-Event": "order_fully_paid",
        "X-Saleor-Domain": "127.0.0.1:9",
        "X-Saleor-Signature": signature,
        "Saleor-Event": "order_fully_paid",
        "Saleor-Domain": "127.0.0.1:9",
        "Saleor-Signature": signature,
        "Saleor-Api-Url": API_URL,
        "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
    }
    return load.raw_post(url, headers, body)


class Deliveries:
    """Signed, distinct deliveries, made ahead of time (signing is not what is measured)."""

    def __init__(self, key):
        from cryptography.hazmat.primitives import serialization

        self.pem = key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.template = json.dumps(_template())
        self.numbers = count()

    def make(self, url: str, n: int) -> list[bytes]:
        jobs = [(url, self.template, next(self.numbers)) for _ in range(n)]
        with ProcessPoolExecutor(
            max_workers=os.cpu_count() or 2, initializer=_init_signer, initargs=(self.pem,)
        ) as pool:
            return list(pool.map(_signed_request, jobs, chunksize=64))


def install_tenant(database_url: str, key) -> None:
    """The tenant row registration leaves behind, holding the signing key's JWKS."""
    from plugin.tenants.crypto import TokenBox
    from tests.saleor_emulator.signing import jwks_document

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (saleor_api_url, domain, app_id, token_encrypted, jwks, jwks_fetched_at, installed_at)"
                " VALUES (:url, '127.0.0.1:9', 'QXBwOjI=', :token, :jwks, now(), now())"
            ),
            {
                "url": API_URL,
                "token": TokenBox(env.SECRET_KEY).encrypt("bench-app-token"),
                "jwks": json.dumps(jwks_document([key])),
            },
        )
    engine.dispose()


def seed_webhook_events(database_url: str, total: int) -> float:
    """Grow `webhook_events` to `total` rows (processed deliveries of earlier orders); seconds taken."""
    engine = create_engine(database_url)
    started = load.now()
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM webhook_events")).scalar()
        missing = total - have
        if missing > 0:
            conn.execute(
                text(
                    "INSERT INTO webhook_events (tenant_id, event_type, order_id, body_sha256, body, issued_at,"
                    " received_at, status, attempts, processed_at)"
                    " SELECT 1, (ARRAY['order_created','order_paid','order_fully_paid','order_updated'])[1 + g % 4],"
                    " 'T3JkZXI6' || md5((g / 4)::text), encode(sha256(('seed' || g)::bytea), 'hex'),"
                    " '{\"order\": {\"id\": \"seeded\"}}', NULL, now() - (g % 86400) * interval '1 minute', 'done', 1, now()"
                    " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) g"
                ),
                {"first": have + 1, "last": total},
            )
        conn.execute(text("ANALYZE webhook_events"))
    engine.dispose()
    return load.now() - started


def _stored_events(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM webhook_events")).scalar())
    finally:
        engine.dispose()


GTHREAD = ["-k", "gthread", "--threads", "4"]
VARIANTS = {
    # label: (gunicorn app, extra gunicorn arguments)
    "app": ("plugin:create_app()", []),
    "baseline": ("bench.baseline_app:app", []),
    "insert-only baseline": ("bench.baseline_app:insert_app", []),
    "app, gthread (2 workers × 4 threads)": ("plugin:create_app()", GTHREAD),
    "baseline, gthread (2 workers × 4 threads)": ("bench.baseline_app:app", GTHREAD),
    "insert-only baseline, gthread (2 workers × 4 threads)": ("bench.baseline_app:insert_app", GTHREAD),
}
INSERTING = ("plugin:create_app()", "bench.baseline_app:insert_app")  # need distinct deliveries


def run(
    *,
    rate: float = 200,
    steady_seconds: float = 20,
    saturate_seconds: float = 10,
    concurrency: int = 16,
    scale_rows: tuple[int, ...] = (10_000, 100_000, 1_000_000),
    scale_seconds: float = 10,
    variants: tuple[str, ...] = tuple(VARIANTS),
    log=print,
) -> dict:
    from tests.saleor_emulator.signing import SigningKey

    key = SigningKey()
    deliveries = Deliveries(key)
    report: dict = {
        "rate": rate,
        "steady_seconds": steady_seconds,
        "saturate_seconds": saturate_seconds,
        "concurrency": concurrency,
        "runs": {},
        "scaling": [],
    }
    with env.scratch_database() as database_url, env.PrivateRedis() as broker:
        install_tenant(database_url, key)
        port = env.free_port()
        app_url = f"http://127.0.0.1:{port}"
        target = app_url + WEBHOOK_PATH
        environment = env.app_env(database_url, broker.url, app_url)
        warm = deliveries.make(target, 100)
        baseline_pool = warm  # the bare endpoint ignores bodies: it cycles through the same ones

        for label in variants:
            spec, extra = VARIANTS[label]
            is_app = spec.startswith("plugin")
            distinct = spec in INSERTING
            # Distinct deliveries for the app (the saturation run stops early should they run out).
            log(f"  {label}: signing deliveries ...")
            saturation_pool = (
                iter(deliveries.make(target, int(saturate_seconds * SATURATION_CEILING)))
                if distinct
                else cycle(baseline_pool)
            )
            steady = deliveries.make(target, int(rate * steady_seconds))
            with env.Gunicorn(spec, environment, port=port, extra_args=extra) as web:
                load.warm_up(target, deliveries.make(target, 50) if distinct else warm[:50])
                stored_before = _stored_events(database_url)
                # CPU per answered delivery at a steady rate: robust to other work on the machine,
                # unlike latency. Gunicorn's processes, and the database's backends for the INSERT.
                meter = env.CpuMeter(
                    {
                        "gunicorn": lambda web=web: env.process_tree(web.proc.pid),
                        "postgresql": lambda: env.postgres_backends(database_url),
                    }
                )
                saturated = load.closed_loop(
                    target,
                    lambda pool=saturation_pool: next(pool, None),
                    concurrency,
                    saturate_seconds,
                    f"{label}: saturated ({concurrency} concurrent)",
                )
                log(f"    saturated: {saturated.summary()}")
                meter.start()
                paced = load.open_loop(target, steady, rate, f"{label}: {rate:.0f} req/s")
                cpu = meter.stop()
                log(f"    steady   : {paced.summary()}")
                entry = report["runs"][label] = {"saturated": saturated.summary(), "steady": paced.summary()}
                entry["cpu_ms_per_delivery"] = {
                    name: round(1000 * cpu[name] / max(paced.ok, 1), 3) for name in ("gunicorn", "postgresql")
                }
                if is_app:
                    acknowledged = saturated.ok + paced.ok
                    sustainable = round(saturated.throughput / 2)
                    if 0 < sustainable < rate:
                        # Below saturation the latency is the app's own, not a queue's.
                        half = load.open_loop(
                            target,
                            deliveries.make(target, int(sustainable * steady_seconds)),
                            sustainable,
                            f"{label}: {sustainable} req/s (half its maximum)",
                        )
                        log(f"    half max : {half.summary()}")
                        entry["half_of_max"] = half.summary()
                        acknowledged += half.ok
                    entry["stored"] = _stored_events(database_url) - stored_before
                    entry["acknowledged"] = acknowledged

        app_rate = report["runs"].get("app", {}).get("saturated", {}).get("throughput_rps")
        base_rate = report["runs"].get("baseline", {}).get("saturated", {}).get("throughput_rps")
        report["throughput_ratio"] = round(app_rate / base_rate, 3) if app_rate and base_rate else None
        threaded = (
            report["runs"].get("app, gthread (2 workers × 4 threads)", {}).get("saturated", {}).get("throughput_rps")
        )
        threaded_base = (
            report["runs"]
            .get("baseline, gthread (2 workers × 4 threads)", {})
            .get("saturated", {})
            .get("throughput_rps")
        )
        report["gthread_throughput_ratio"] = round(threaded / threaded_base, 3) if threaded and threaded_base else None

        if scale_rows:
            # Below saturation, so that what changes with the data is the app's latency, not a queue.
            half = report["runs"].get("app", {}).get("half_of_max")
            scale_rate = half["target_rate"] if half else rate
            report["scale_rate"] = scale_rate
            with env.Gunicorn("plugin:create_app()", environment, port=port):
                for rows in scale_rows:
                    seconds = seed_webhook_events(database_url, rows)
                    payloads = deliveries.make(target, int(scale_rate * scale_seconds))
                    load.warm_up(target, deliveries.make(target, 20))
                    paced = load.open_loop(
                        target, payloads, scale_rate, f"app at {scale_rate:.0f} req/s, {rows:,} stored events"
                    )
                    log(f"  ingest with {rows:>9,} stored events (seeded in {seconds:.1f} s): {paced.summary()}")
                    report["scaling"].append({"stored_events": rows, **paced.summary()})
    return report
