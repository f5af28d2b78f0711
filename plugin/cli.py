"""`referrals` command line: run the app, migrate, and privacy operations.

    python -m plugin.cli run            # the embedded server (make run)
    python -m plugin.cli db upgrade     # apply migrations
"""
from __future__ import annotations

import argparse
import json
import sys


def _run(args) -> int:
    from werkzeug.serving import run_simple

    from plugin.app import create_app

    app = create_app()
    cfg = app.config["SETTINGS"]
    print(f"\n  Referrals app on http://127.0.0.1:{cfg.port}")
    print(f"  Manifest URL for the Saleor Dashboard: {cfg.app_url}/api/manifest")
    print(f"  Database: {cfg.database_url.split('@')[-1]}   Tasks: {'Celery/Redis' if cfg.redis_url else 'in-process'}"
          f"   Mail: {'SMTP' if cfg.smtp_url else cfg.mail_outbox_dir}\n", flush=True)
    run_simple(args.host, cfg.port, app, threaded=True, use_reloader=False)
    return 0


def _db(args) -> int:
    from plugin.config import Config
    from plugin.migrations import upgrade

    upgrade(Config.from_env().database_url)
    print("database is up to date")
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
    try:
        from plugin.privacy.cli import register as register_privacy
    except ImportError:
        pass
    else:
        register_privacy(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
