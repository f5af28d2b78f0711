"""`referrals` command line: run the app, migrate, and the privacy operations.

    python -m plugin.cli run            # the embedded server (make run)
    python -m plugin.cli db upgrade     # apply migrations
    referrals export friend@example.com --shop https://shop.example.com/graphql/ > data.json
    referrals erase  friend@example.com --shop https://shop.example.com/graphql/

`export` and `erase` print JSON on stdout; exit status 2 for an unknown shop or an invalid e-mail,
1 when the erasure could not delete every reward code in Saleor (run it again later).
"""

from __future__ import annotations

import argparse
import json
import sys

from werkzeug.serving import run_simple

from plugin.app import create_app
from plugin.config import Config
from plugin.identity import is_valid_email
from plugin.migrations import upgrade
from plugin.privacy import service as privacy
from plugin.tenants.service import find_tenant, saleor_client


def _run(args) -> int:
    app = create_app()
    cfg = app.config["SETTINGS"]
    print(f"\n  Referrals app on http://127.0.0.1:{cfg.port}")
    print(f"  Manifest URL for the Saleor Dashboard: {cfg.app_url}/api/manifest")
    print(
        f"  Database: {cfg.database_url.split('@')[-1]}   Tasks: {'Celery/Redis' if cfg.redis_url else 'in-process'}"
        f"   Mail: {'SMTP' if cfg.smtp_url else cfg.mail_outbox_dir}\n",
        flush=True,
    )
    run_simple(args.host, cfg.port, app, threaded=True, use_reloader=False)
    return 0


def _db(args) -> int:
    upgrade(Config.from_env().database_url)
    print("database is up to date")
    return 0


def _privacy(args) -> int:
    email = args.email.strip()
    if not is_valid_email(email):
        print(f"error: {email!r} is not an e-mail address", file=sys.stderr)
        return 2
    app = create_app(runner="eager")
    secret = app.config["SETTINGS"].secret_key
    with app.app_context():
        tenant = find_tenant(args.shop.strip())
        if tenant is None:
            print(f"error: no shop with API URL {args.shop!r} has installed the app", file=sys.stderr)
            return 2
        if args.operation == "export":
            print(json.dumps(privacy.export(tenant.id, email, secret=secret), indent=2, ensure_ascii=False))
            return 0
        report = privacy.erase(
            tenant.id,
            email,
            secret=secret,
            actor="operator:cli",
            saleor=lambda: saleor_client(tenant) if tenant.token_encrypted else None,
        )
        print(json.dumps(report.as_dict(), indent=2))
        if not report.complete:
            print("warning: some reward codes are still live in Saleor; run the erasure again later", file=sys.stderr)
            return 1
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="referrals")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the app (development server)")
    run.add_argument("--host", default="127.0.0.1")
    run.set_defaults(func=_run)
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=_db)
    for name, helptext in (
        ("erase", "erase (pseudonymise) everything stored about an e-mail"),
        ("export", "print everything stored about an e-mail as JSON"),
    ):
        privacy_command = sub.add_parser(name, help=helptext)
        privacy_command.add_argument("email")
        privacy_command.add_argument(
            "--shop",
            required=True,
            metavar="API_URL",
            help="the shop's Saleor API URL, exactly as installed (e.g. https://x/graphql/)",
        )
        privacy_command.set_defaults(func=_privacy, operation=name)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
