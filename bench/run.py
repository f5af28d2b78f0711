"""`make bench`: every benchmark, on loopback, with the report in bench/results/ and on stdout.

    .venv/bin/python -m bench.run                      # everything (about 15 minutes on 2 cores)
    .venv/bin/python -m bench.run --only widget,analytics
    .venv/bin/python -m bench.run --quick              # shorter runs and smaller data, same shape

Needs PostgreSQL on 127.0.0.1:5432 (user postgres; scratch databases are created and
dropped), `redis-server` (a private one on a free port is started), and for the widget
timing Debian's chromium. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import env

RESULTS = Path(__file__).with_name("results")
SECTIONS = ("widget", "analytics", "ingest", "e2e")

TARGETS = {
    "ingest_ratio": 0.5,  # app throughput / bare Flask throughput, same gunicorn setup
    "ingest_p99_ms": 25.0,  # at a steady 200 req/s
    "ingest_p99_vs_insert_only": 3.0,  # app p99 / the insert-only baseline's p99, same setup, same run
    "e2e_rate": 10.0,  # referred orders per second the e2e latency target is for
    "e2e_p95_s": 2.0,  # paid delivery → both reward e-mails accepted, at 10 orders/s
    "worker_cpu_plain_s": 0.015,  # Celery CPU seconds per plain paid order (enrolment + invitation)
    "worker_cpu_referred_s": 0.05,  # per referred order (attribution, both rewards, both e-mails)
    "widget_gzip_bytes": 3 * 1024,
    "analytics_p95_ms": 200.0,  # each dashboard query, 1 M funnel events
}


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        value = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def markdown(results: dict) -> str:
    lines = [f"# Benchmark report — {results['started']}", "", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in results["machine"].items()]
    lines += [
        "",
        f"Load average before / after: {results['load_before']} / {results['load_after']}"
        f" (other work on the machine shares the same cores).",
        "",
        f"Command: `{results['command']}`",
        "",
        "## Targets",
        "",
        "| what | target | measured | verdict |",
        "|---|---|---|---|",
    ]
    lines += [f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} |" for row in results["targets"]]

    if "ingest" in results:
        r = results["ingest"]
        lines += [
            "",
            "## 1. Webhook ingest (gunicorn -w 2, sync workers)",
            "",
            "| run | sent | 2xx | other | throughput | p50 | p90 | p99 | max |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for runs in r["runs"].values():
            for key in ("saturated", "steady", "half_of_max"):
                s = runs.get(key)
                if not s:
                    continue
                other = {k: v for k, v in s["statuses"].items() if not k.startswith("2")}
                lines.append(
                    f"| {s['label']} | {_fmt(s['sent'])} | {_fmt(s['ok'])} | {other or '–'} | "
                    f"{_fmt(s['throughput_rps'], '/s')} | {_fmt(s['p50_ms'], ' ms')} | "
                    f"{_fmt(s['p90_ms'], ' ms')} | {_fmt(s['p99_ms'], ' ms')} | {_fmt(s['max_ms'], ' ms')} |"
                )
        cpu_rows = [
            (label, runs["cpu_ms_per_delivery"]) for label, runs in r["runs"].items() if "cpu_ms_per_delivery" in runs
        ]
        if cpu_rows:
            lines += [
                "",
                f"CPU per answered delivery during the {r['rate']:.0f} req/s run (`/proc`; robust to other work, unlike latency):",
                "",
                "| setup | gunicorn ms | PostgreSQL ms |",
                "|---|---|---|",
            ]
            lines += [f"| {label} | {c['gunicorn']} | {c['postgresql']} |" for label, c in cpu_rows]
        lines += [
            "",
            f"Throughput ratio app / baseline: **{r.get('throughput_ratio')}** (sync workers), "
            f"**{r.get('gthread_throughput_ratio')}** (gthread, each against the baseline in the same setup).",
        ]
        lines += [
            f"{label}: {runs['acknowledged']:,} deliveries acknowledged, {runs['stored']:,} stored in PostgreSQL."
            for label, runs in r["runs"].items()
            if "acknowledged" in runs
        ]
        if r.get("scaling"):
            lines += [
                "",
                "Ingest as stored data grows (steady open-loop load):",
                "",
                "| stored webhook events | rate | 2xx | p50 | p99 |",
                "|---|---|---|---|---|",
            ]
            lines += [
                f"| {_fmt(s['stored_events'])} | {_fmt(s['target_rate'])}/s | {_fmt(s['ok'])}/{_fmt(s['sent'])} | "
                f"{_fmt(s['p50_ms'], ' ms')} | {_fmt(s['p99_ms'], ' ms')} |"
                for s in r["scaling"]
            ]

    if "e2e" in results:
        lines += [
            "",
            "## 2. End to end: paid order → both reward e-mails",
            "",
            "| rate | orders | completed | missing | doubled | p50 | p95 | p99 | max | load before / after |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in results["e2e"]:
            load = r.get("load_average", {})
            lines.append(
                f"| {_fmt(r['rate'])}/s | {r['orders']} | {r['completed']} | {r['missing']} | {r.get('doubled', '–')} | "
                f"{_fmt(r['p50_s'], ' s')} | {_fmt(r['p95_s'], ' s')} | {_fmt(r['p99_s'], ' s')} | "
                f"{_fmt(r['max_s'], ' s')} | {load.get('before')} / {load.get('after')} |"
            )
        for r in results["e2e"]:
            phases = [(k, r[k]) for k in ("plain", "referred") if k in r]
            if not phases:
                continue
            plain = r.get("plain", {})
            lines += [
                "",
                f"Cost per order at {_fmt(r['rate'])} orders/s, by order kind ({plain.get('orders', '?')} plain paid"
                f" orders: enrolment + invitation; {r['orders']} referred orders: attribution, both rewards, both"
                " e-mails, the friend's enrolment and invitation):",
                "",
                "| per order | " + " | ".join(k for k, _ in phases) + " |",
                "|---|" + "---|" * len(phases),
            ]
            names = list(dict.fromkeys(n for _, p in phases for n in p["cpu_seconds"]))
            for name in names:
                if name in ("wall seconds", "cores available"):
                    continue
                cells = [f"{p['cpu_seconds'].get(name, 0) / max(p_orders(r, k), 1):.4f}" for k, p in phases]
                lines.append(f"| CPU s: {name} | " + " | ".join(cells) + " |")
            lines.append(
                "| **CPU s: Celery worker, all processes** | "
                + " | ".join(f"**{p['worker_cpu_per_order']:.4f}**" for _, p in phases)
                + " |"
            )
            lines.append(
                "| SQL statements sent by the worker | "
                + " | ".join(str(p.get("sql_statements_per_order_worker")) for _, p in phases)
                + " |"
            )
            for key in ("transactions", "rows_inserted", "rows_updated", "rows_fetched"):
                lines.append(
                    f"| PostgreSQL {key.replace('_', ' ')} (every client) | "
                    + " | ".join(str(p["database_per_order"].get(key)) for _, p in phases)
                    + " |"
                )
            tables = list(dict.fromkeys(t for _, p in phases for t in p.get("table_reads_per_order", {})))
            for table in tables:
                lines.append(
                    f"| rows read from {table} (sequential scans) | "
                    + " | ".join(
                        "{} ({})".format(*p.get("table_reads_per_order", {}).get(table, ("–", "–"))) for _, p in phases
                    )
                    + " |"
                )
            ops = list(dict.fromkeys(o for _, p in phases for o in p["saleor_calls_per_order"]))
            for op in ops:
                lines.append(
                    f"| Saleor calls: {op} | "
                    + " | ".join(str(p["saleor_calls_per_order"].get(op, 0)) for _, p in phases)
                    + " |"
                )
            lines.append(
                "| **Saleor calls, all** | "
                + " | ".join(f"**{round(sum(p['saleor_calls_per_order'].values()), 2)}**" for _, p in phases)
                + " |"
            )
            lines.append(
                "| wall seconds / cores | "
                + " | ".join(
                    f"{p['cpu_seconds'].get('wall seconds')} / {p['cpu_seconds'].get('cores available')}"
                    for _, p in phases
                )
                + " |"
            )
            lines.append(
                "| load average before / after | "
                + " | ".join(f"{p['load_average']['before']} / {p['load_average']['after']}" for _, p in phases)
                + " |"
            )
            for kind, p in phases:
                prof = p.get("profile") or {}
                if not prof.get("available"):
                    continue
                lines += [
                    "",
                    f"Profile of the Celery worker, {kind} orders ({prof['samples']:,} samples, py-spy, every"
                    f" process): the functions in most samples, inclusive and own time.",
                    "",
                    "| inclusive | % | own | % |",
                    "|---|---|---|---|",
                ]
                for (inc, inc_pct), (own, own_pct) in zip(prof["inclusive_percent"], prof["own_percent"], strict=False):
                    lines.append(f"| {inc} | {inc_pct} | {own} | {own_pct} |")
            if plain:
                lines += [
                    "",
                    f"Plain orders: paid → invitation p50 {_fmt(plain.get('p50_s'), ' s')}, p95"
                    f" {_fmt(plain.get('p95_s'), ' s')}, {plain.get('invitations_missing')} invitations missing.",
                ]

    if "widget" in results:
        w = results["widget"]
        size, render = w.get("size", {}), w.get("render", {})
        lines += ["", "## 3. Widget", ""]
        if size.get("available"):
            lines += [
                f"`/widget.js` (CSS inlined): {size['raw_bytes']:,} bytes, gzip -6 {size['gzip6_bytes']:,} bytes,"
                f" gzip -9 {size['gzip9_bytes']:,} bytes (budget {size['budget_bytes']:,})."
            ]
        else:
            lines += ["`/widget.js`: not available."]
        if render.get("available"):
            lines += [
                "",
                f"Headless Chromium, {render['samples']} cold loads:",
                "",
                "| measured from | p50 | p90 | max |",
                "|---|---|---|---|",
            ]
            for key, label in (("from_insert", "script tag inserted"), ("from_script_loaded", "widget.js downloaded")):
                s = render[key]
                lines.append(
                    f"| {label} → share block rendered | {_fmt(s['p50_ms'], ' ms')} | "
                    f"{_fmt(s['p90_ms'], ' ms')} | {_fmt(s['max_ms'], ' ms')} |"
                )
        else:
            lines += ["", f"Render timing: not available ({render.get('reason')})."]

    if "analytics" in results:
        a = results["analytics"]
        lines += [
            "",
            "## 4. Analytics queries",
            "",
            f"{a['runs_per_query']} runs each after a first (cold) call.",
            "",
            "| funnel events | query | first call | p50 | p95 | max |",
            "|---|---|---|---|---|---|",
        ]
        for size in a["sizes"]:
            for name, q in size["queries"].items():
                if q.get("error"):
                    lines.append(f"| {_fmt(size['seeded']['events'])} | {name} | error: {q['error']} | | | |")
                    continue
                lines.append(
                    f"| {_fmt(size['seeded']['events'])} | {name} | {_fmt(q['first_ms'], ' ms')} | "
                    f"{_fmt(q['p50_ms'], ' ms')} | {_fmt(q['p95_ms'], ' ms')} | {_fmt(q['max_ms'], ' ms')} |"
                )
        biggest = a["sizes"][-1]
        lines += ["", f"Plans at {_fmt(biggest['seeded']['events'])} events (EXPLAIN ANALYZE of every statement):", ""]
        for name, q in biggest["queries"].items():
            for plan in q.get("plans", []):
                lines.append(f"* {name}: {', '.join(plan['scans']) or 'no table scan'} — {plan['execution']}")
    return "\n".join(lines) + "\n"


GTHREAD_APP = "app, gthread (2 workers × 4 threads)"


def p_orders(r: dict, kind: str) -> int:
    return r[kind].get("orders", r["orders"]) if kind == "plain" else r["orders"]


def targets(results: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    if "ingest" in results:
        r = results["ingest"]
        setups = (
            ("gthread, the production setup", r.get("gthread_throughput_ratio"), GTHREAD_APP),
            ("sync workers", r.get("throughput_ratio"), "app"),
        )
        for setup, ratio, _label in setups:
            rows.append(
                (
                    f"ingest throughput vs bare Flask ({setup})",
                    f"≥ {TARGETS['ingest_ratio']}×",
                    _fmt(ratio, "×"),
                    _verdict(None if ratio is None else ratio >= TARGETS["ingest_ratio"]),
                )
            )
        for setup, _ratio, label in setups:
            if label not in r["runs"]:
                continue
            floor_label = "insert-only baseline" + label.removeprefix("app")
            floor = r["runs"].get(floor_label, {}).get("steady", {}).get("p99_ms")
            mine = r["runs"][label]["steady"]["p99_ms"]
            if floor and mine:
                ratio = mine / floor
                rows.append(
                    (
                        f"ingest p99 at {r['rate']:.0f} req/s vs the insert-only baseline's ({setup})",
                        f"≤ {TARGETS['ingest_p99_vs_insert_only']:.0f}×",
                        f"{ratio:.2f}× ({_fmt(mine, ' ms')} vs {_fmt(floor, ' ms')})",
                        _verdict(ratio <= TARGETS["ingest_p99_vs_insert_only"]),
                    )
                )
            steady = r["runs"][label]["steady"]
            ok = (
                steady["p99_ms"] is not None
                and steady["p99_ms"] <= TARGETS["ingest_p99_ms"]
                and not [s for s in steady["statuses"] if not s.startswith("2")]
            )
            rows.append(
                (
                    f"ingest p99 at {steady['target_rate']:.0f} req/s ({setup})",
                    f"≤ {TARGETS['ingest_p99_ms']:.0f} ms",
                    f"{_fmt(steady['p99_ms'], ' ms')} ({steady['ok']}/{steady['sent']} answered 2xx)",
                    _verdict(ok),
                )
            )
    if "e2e" in results:
        for r in results["e2e"]:
            ok = (
                r["p95_s"] is not None
                and r["p95_s"] <= TARGETS["e2e_p95_s"]
                and r["missing"] == 0
                and not r.get("doubled")
            )
            rows.append(
                (
                    f"paid → both e-mails p95 at {_fmt(r['rate'])} orders/s",
                    f"≤ {TARGETS['e2e_p95_s']:.0f} s",
                    f"{_fmt(r['p95_s'], ' s')} ({r['missing']} missing, {r.get('doubled', '?')} doubled)",
                    _verdict(ok) if r["rate"] >= TARGETS["e2e_rate"] else f"{_verdict(ok)} (below the target rate)",
                )
            )
            for kind, target in (("plain", "worker_cpu_plain_s"), ("referred", "worker_cpu_referred_s")):
                if kind in r:
                    cpu = r[kind]["worker_cpu_per_order"]
                    rows.append(
                        (
                            f"Celery worker CPU per {kind} order at {_fmt(r['rate'])} orders/s",
                            f"≤ {TARGETS[target]} s",
                            f"{cpu:.4f} s",
                            _verdict(cpu <= TARGETS[target]),
                        )
                    )
    if "widget" in results:
        size = results["widget"].get("size", {})
        if size.get("available"):
            rows.append(
                (
                    "widget.js + CSS, gzip",
                    f"≤ {TARGETS['widget_gzip_bytes']:,} B",
                    f"{size['gzip9_bytes']:,} B",
                    _verdict(size["gzip9_bytes"] <= TARGETS["widget_gzip_bytes"]),
                )
            )
        else:
            rows.append(("widget.js + CSS, gzip", f"≤ {TARGETS['widget_gzip_bytes']:,} B", "not available", "n/a"))
    if "analytics" in results:
        biggest = results["analytics"]["sizes"][-1]
        worst = max(
            ((q["p95_ms"] or 0.0, name) for name, q in biggest["queries"].items() if not q.get("error")),
            default=(None, None),
        )
        errors = [name for name, q in biggest["queries"].items() if q.get("error")]
        rows.append(
            (
                f"dashboard query p95, {_fmt(biggest['seeded']['events'])} events",
                f"≤ {TARGETS['analytics_p95_ms']:.0f} ms",
                f"worst {_fmt(worst[0], ' ms')} ({worst[1]})" + (f"; errors: {errors}" if errors else ""),
                _verdict(worst[0] is not None and worst[0] <= TARGETS["analytics_p95_ms"] and not errors),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="shorter runs and smaller data (a smoke test)")
    parser.add_argument("--ingest-rate", type=float, default=200)
    parser.add_argument("--e2e-rates", default="10,2", help="orders per second, one e2e run each")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy samples the Celery worker in each e2e phase (top functions)"
    )
    parser.add_argument("--e2e-concurrency", type=int, default=8, help="Celery worker processes")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}")

    started = datetime.now(UTC)
    results: dict = {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": env.machine(),
        "load_before": env.load_average(),
        "command": "python -m bench.run " + " ".join(argv or sys.argv[1:]),
    }
    print(f"benchmarks on {results['machine']['cores (nproc)']} cores, load {results['load_before']}", flush=True)

    def log(message: str) -> None:
        print(message, flush=True)

    clock = time.monotonic()
    if "widget" in chosen:
        print("== widget", flush=True)
        from bench import widget

        results["widget"] = widget.run(samples=5 if args.quick else 20, log=log)
    if "analytics" in chosen:
        print("== analytics", flush=True)
        from bench import queries

        sizes = (10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000)
        results["analytics"] = queries.run(sizes=sizes, runs=5 if args.quick else 20, log=log)
    if "ingest" in chosen:
        print("== ingest", flush=True)
        from bench import ingest

        results["ingest"] = ingest.run(
            rate=args.ingest_rate,
            steady_seconds=5 if args.quick else 20,
            saturate_seconds=4 if args.quick else 10,
            scale_rows=(10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000),
            scale_seconds=3 if args.quick else 10,
            log=log,
        )
    if "e2e" in chosen:
        print("== end to end", flush=True)
        from bench import e2e

        results["e2e"] = []
        for rate in (float(r) for r in args.e2e_rates.split(",") if r.strip()):
            seconds = 5 if args.quick else (15 if rate >= 10 else 30)
            results["e2e"].append(
                e2e.run(
                    rate=rate,
                    seconds=seconds,
                    advocates=5 if args.quick else 20,
                    concurrency=args.e2e_concurrency,
                    profile_dir=(RESULTS / f"profile-{started.strftime('%Y%m%dT%H%M%SZ')}") if args.profile else None,
                    log=log,
                )
            )

    results["load_after"] = env.load_average()
    results["minutes"] = round((time.monotonic() - clock) / 60, 1)
    results["targets"] = targets(results)
    report = markdown(results)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"bench-{started.strftime('%Y%m%dT%H%M%SZ')}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    stem.with_suffix(".md").write_text(report)
    print("\n" + report)
    print(f"written: {stem.with_suffix('.md')} and .json ({results['minutes']} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
