"""`referrals erase` / `referrals export`: the privacy operations from a shell.

    referrals export friend@example.com --shop https://shop.example.com/graphql/ > data.json
    referrals erase  friend@example.com --shop https://shop.example.com/graphql/

Both print JSON on stdout; exit status 2 for an unknown shop or an invalid e-mail, 1 when the
erasure could not delete every reward code in Saleor (run it again later).
"""
from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    for name, helptext in (("erase", "erase (pseudonymise) everything stored about an e-mail"),
                           ("export", "print everything stored about an e-mail as JSON")):
        parser = subparsers.add_parser(name, help=helptext)
        parser.add_argument("email")
        parser.add_argument("--shop", required=True, metavar="API_URL",
                            help="the shop's Saleor API URL, exactly as installed (e.g. https://x/graphql/)")
        parser.set_defaults(func=_run, operation=name)


def _run(args) -> int:
    from sqlalchemy import select

    from plugin.app import create_app
    from plugin.db import session_scope
    from plugin.privacy import service
    from plugin.referrals.identity import is_valid_email
    from plugin.tenants.models import Tenant
    from plugin.tenants.service import saleor_client

    email = args.email.strip()
    if not is_valid_email(email):
        print(f"error: {email!r} is not an e-mail address", file=sys.stderr)
        return 2
    app = create_app(runner="eager")
    secret = app.config["SETTINGS"].secret_key
    with app.app_context():
        with session_scope() as session:
            tenant = session.scalar(select(Tenant).where(Tenant.saleor_api_url == args.shop.strip()))
        if tenant is None:
            print(f"error: no shop with API URL {args.shop!r} has installed the app", file=sys.stderr)
            return 2
        if args.operation == "export":
            print(json.dumps(service.export(tenant.id, email, secret=secret), indent=2, ensure_ascii=False))
            return 0
        report = service.erase(tenant.id, email, secret=secret, actor="operator:cli",
                               saleor=lambda: saleor_client(tenant) if tenant.token_encrypted else None)
        print(json.dumps(report.as_dict(), indent=2))
        if not report.complete:
            print("warning: some reward codes are still live in Saleor; run the erasure again later",
                  file=sys.stderr)
            return 1
        return 0
