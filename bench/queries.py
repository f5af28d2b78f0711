"""The dashboard's analytics queries over a big shop, in PostgreSQL.

The scratch database gets `events` funnel events spread over 90 days plus the rows they
imply (one advocate per 20 events, one paid referred order and referral per 50, two reward
coupons per referral), written with INSERT … SELECT generate_series (the fastest bulk load
PostgreSQL has short of COPY from a file), then VACUUM ANALYZE. Then the admin API's functions
in `plugin.analytics.queries` run repeatedly over the last 30 and 90 days: the first call of a
range is reported on its own (it also writes the roll-ups of closed days, FunnelDaily and
AdvocateLastShare, as the app does on a shop's first report), the rest give p50/p95. Every
SQL statement a report sends is EXPLAIN ANALYZEd, under the report's own session settings, to
show which indexes it uses.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

from sqlalchemy import create_engine, event, text

from bench import env
from bench.load import Result

FILL = """
INSERT INTO tenants (id, saleor_api_url, domain, app_id, installed_at)
  VALUES (1, 'http://127.0.0.1:9/graphql/', 'bench', 'QXBwOjE=', now());
INSERT INTO advocates (tenant_id, email, contact_email, first_name, code, locale, variant, channel_slug,
                       saleor_channel_id, currency, created_at)
  SELECT 1, 'a' || g || '@example.com', 'a' || g || '@example.com', 'Ada', 'C' || g, 'en',
         CASE WHEN g % 10 = 0 THEN 'holdout' WHEN g % 2 = 0 THEN 'control' ELSE 'generous' END,
         CASE WHEN g % 3 = 0 THEN 'channel-pln' ELSE 'default-channel' END, 'Q2hhbm5lbDox',
         CASE WHEN g % 3 = 0 THEN 'PLN' ELSE 'USD' END, now() - (g % 90) * interval '1 day'
  FROM generate_series(1, :advocates) g;
INSERT INTO funnel_events (tenant_id, kind, at, advocate_id, channel_slug, share_channel, variant)
  SELECT 1, (ARRAY['widget_view','widget_view','widget_view','share','click','click','claim'])[1 + g % 7],
         now() - (g % 129600) * interval '1 minute', 1 + g % :advocates,
         CASE WHEN g % 3 = 0 THEN 'channel-pln' ELSE 'default-channel' END,
         CASE WHEN g % 7 = 3 THEN (ARRAY['whatsapp','email','copy','telegram'])[1 + g % 4] END,
         CASE WHEN g % 2 = 0 THEN 'control' ELSE 'generous' END
  FROM generate_series(1, :events) g;
INSERT INTO orders (tenant_id, saleor_order_id, number, channel_slug, saleor_channel_id, currency, email,
                    contact_email, first_name, locale, status, charge_status, is_paid, total, total_charged,
                    total_refunded, referral_code, cancelled, attributed, created_at, updated_at)
  SELECT 1, 'O' || g, g::text, CASE WHEN g % 3 = 0 THEN 'channel-pln' ELSE 'default-channel' END, 'Q2hhbm5lbDox',
         CASE WHEN g % 3 = 0 THEN 'PLN' ELSE 'USD' END, 'f' || g || '@example.net', 'f' || g || '@example.net',
         'Fred', 'en', 'UNFULFILLED', 'FULL', true, 40 + g % 60, 40 + g % 60,
         CASE WHEN g % 17 = 0 THEN 10 ELSE 0 END, 'C' || (1 + g % :advocates), false, true,
         now() - (g % 90) * interval '1 day', now()
  FROM generate_series(1, :referrals) g;
INSERT INTO referrals (tenant_id, advocate_id, saleor_order_id, order_record_id, friend_email, friend_contact_email,
                       friend_first_name, channel_slug, currency, order_total, source, variant, state, decision,
                       reasons, shortfall, created_at, updated_at)
  SELECT 1, 1 + g % :advocates, 'O' || g, g, 'f' || g || '@example.net', 'f' || g || '@example.net', 'Fred',
         CASE WHEN g % 3 = 0 THEN 'channel-pln' ELSE 'default-channel' END,
         CASE WHEN g % 3 = 0 THEN 'PLN' ELSE 'USD' END, 40 + g % 60, 'metadata',
         CASE WHEN g % 2 = 0 THEN 'control' ELSE 'generous' END,
         (ARRAY['issued','issued','issued','issued','held','revoked','rejected'])[1 + g % 7], 'allow', '[]', 0,
         now() - (g % 90) * interval '1 day', now()
  FROM generate_series(1, :referrals) g;
INSERT INTO coupons (tenant_id, purpose, referral_id, advocate_id, recipient_email, code, channel_slug,
                     saleor_channel_id, currency, value_type, value, min_order, state, issue_attempts,
                     redeemed_value, created_at, issued_at)
  SELECT 1, CASE WHEN g % 2 = 0 THEN 'referrer_reward' ELSE 'friend_reward' END, 1 + g / 2,
         CASE WHEN g % 2 = 0 THEN 1 + (1 + g / 2) % :advocates END, 'x' || g || '@example.com', 'K' || g,
         CASE WHEN (1 + g / 2) % 3 = 0 THEN 'channel-pln' ELSE 'default-channel' END, 'Q2hhbm5lbDox',
         CASE WHEN (1 + g / 2) % 3 = 0 THEN 'PLN' ELSE 'USD' END,
         CASE WHEN g % 2 = 0 THEN 'FIXED' ELSE 'PERCENTAGE' END, 10, 0,
         (ARRAY['issued','used','revoked'])[1 + g % 3], 1, CASE WHEN g % 3 = 1 THEN 4 ELSE 0 END,
         now() - ((g / 2) % 90) * interval '1 day', now()
  FROM generate_series(0, 2 * :referrals - 1) g;
SELECT setval(pg_get_serial_sequence('advocates', 'id'), :advocates);
SELECT setval(pg_get_serial_sequence('orders', 'id'), :referrals);
SELECT setval(pg_get_serial_sequence('referrals', 'id'), :referrals);
"""

CHANNELS = {
    "default-channel": {"name": "Default", "currency": "USD"},
    "channel-pln": {"name": "Polska", "currency": "PLN"},
}


def seed(database_url: str, events: int) -> dict:
    sizes = {"events": events, "advocates": max(1000, events // 20), "referrals": max(200, events // 50)}
    engine = create_engine(database_url)
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(text(statement), sizes)
    # What autovacuum does to a real database soon after a bulk load (this server runs with
    # autovacuum off): statistics for the planner, and the visibility map without which an
    # index-only scan still reads every heap page.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return {**sizes, "coupons": 2 * sizes["referrals"], "seconds": round(time.perf_counter() - started, 1)}


def _report_functions():
    """The dashboard's queries, called the way plugin.admin.views calls them."""
    from plugin.analytics import queries

    functions = {}
    if hasattr(queries, "program_report"):
        functions["program_report"] = lambda s, p: queries.program_report(s, 1, p, CHANNELS)
    if hasattr(queries, "top_advocates"):
        functions["top_advocates"] = lambda s, p: queries.top_advocates(s, 1, p, limit=50)
    if hasattr(queries, "experiment_counts"):
        functions["experiment_counts"] = lambda s, p: queries.experiment_counts(s, 1, p)
    return functions


class StatementLog:
    """The SQL (with parameters) a block of code sends, to EXPLAIN it afterwards."""

    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "SET")):
            self.statements.append((statement, parameters))

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)


def explain(engine, statements) -> list[dict]:
    plans = []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            if statement.lstrip().upper().startswith("SET"):
                cursor.execute(statement, parameters)  # the report's session settings (work_mem, ...)
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            lines = [row[0] for row in cursor.fetchall()]
            scans = sorted(
                {
                    m.group(0)
                    for line in lines
                    for m in re.finditer(
                        r"(Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)"
                        r"(?: using \w+)? on \w+",
                        line,
                    )
                }
            )
            execution = next((line for line in lines if line.startswith("Execution Time")), "")
            plans.append(
                {"sql": " ".join(statement.split())[:300], "scans": scans, "execution": execution, "plan": lines}
            )
        raw.rollback()
    finally:
        raw.close()
    return plans


def time_reports(database_url: str, runs: int, log=print, explain_plans: bool = False) -> dict:
    from plugin import db
    from plugin.analytics import queries

    engine = db.init_engine(database_url)
    today = date.today()
    out: dict = {}
    for days in (30, 90):
        period = queries.Period(today - timedelta(days=days - 1), today)
        for name, fn in _report_functions().items():
            samples, first, error = [], None, None
            for i in range(runs + 1):
                started = time.perf_counter()
                try:
                    with db.session_scope(1) as session:
                        fn(session, period)
                except Exception as exc:  # noqa: BLE001 - reported, the other queries still run
                    error = f"{type(exc).__name__}: {exc}"[:300]
                    break
                elapsed = time.perf_counter() - started
                if i == 0:
                    first = elapsed
                else:
                    samples.append(elapsed)
            result = Result(name, latencies=samples)
            entry = {
                "first_ms": round(first * 1000, 1) if first is not None else None,
                "p50_ms": _ms(result.percentile(50)),
                "p95_ms": _ms(result.percentile(95)),
                "max_ms": _ms(max(samples) if samples else None),
                "runs": len(samples),
                "error": error,
            }
            if explain_plans and error is None:
                with StatementLog(engine) as recorded, db.session_scope(1) as session:
                    fn(session, period)
                entry["plans"] = explain(engine, recorded.statements)
            out[f"{name} ({days} days)"] = entry
            log(
                f"    {name:18} {days:>2} days: first {entry['first_ms']} ms, p50 {entry['p50_ms']} ms, "
                f"p95 {entry['p95_ms']} ms" + (f"  ERROR {error}" if error else "")
            )
    engine.dispose()
    db._engine = None
    return out


def _ms(value):
    return None if value is None else round(value * 1000, 1)


def run(*, sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000), runs: int = 20, log=print) -> dict:
    report = {"runs_per_query": runs, "sizes": []}
    for events in sizes:
        with env.scratch_database() as database_url:
            seeded = seed(database_url, events)
            log(
                f"  {events:,} funnel events seeded in {seeded['seconds']} s "
                f"({seeded['advocates']:,} advocates, {seeded['referrals']:,} referrals, {seeded['coupons']:,} coupons)"
            )
            timings = time_reports(database_url, runs, log, explain_plans=(events == max(sizes)))
            report["sizes"].append({"seeded": seeded, "queries": timings})
    return report
