"""Add an Alembic revision for a model change (0001 and every released revision are never edited).

    .venv/bin/python scripts/new_migration.py "add coupons.note"            # scratch PostgreSQL db
    .venv/bin/python scripts/new_migration.py --sqlite "add coupons.note"   # no PostgreSQL at hand

Builds a scratch database at the current head, lets Alembic's autogenerate compare it with the
models and writes plugin/migrations/versions/<next number>_<message>.py with down_revision = the
head. Read what it wrote: autogenerate does not see renames (it drops and adds), data moves, or the
server default a NOT NULL column needs on a table that already has rows. See plugin/migrations/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alembic import command  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from plugin.migrations import HERE, alembic_config, upgrade  # noqa: E402

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def next_revision_id() -> str:
    heads = ScriptDirectory(str(HERE)).get_heads()
    if len(heads) != 1:
        sys.exit(f"several heads {sorted(heads)}: chain them into one line first")
    number = heads[0].split("_", 1)[0]  # "0004" or "0007_referrals_friend_email"
    if not number.isdigit():
        sys.exit(f"the head {heads[0]!r} is not numbered like 0001: name the new revision by hand")
    return f"{int(number) + 1:04d}"


def autogenerate(url: str, message: str) -> None:
    upgrade(url)
    rev_id = next_revision_id()
    command.revision(alembic_config(url), message=message, autogenerate=True, rev_id=rev_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("message", help='what the revision does, e.g. "add coupons.note"')
    parser.add_argument("--sqlite", action="store_true", help="compare against a scratch SQLite file")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            autogenerate(f"sqlite:///{tmp}/scratch.sqlite3", args.message)
        return
    name = f"referrals_new_migration_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        autogenerate(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", args.message)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


if __name__ == "__main__":
    main()
