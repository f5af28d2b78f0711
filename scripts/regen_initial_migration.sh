#!/usr/bin/env bash
# Until the first release, the schema is one migration (0001). After changing models,
# regenerate it from the models against a scratch PostgreSQL database:
#   scripts/regen_initial_migration.sh
# After the first release: add a new revision instead (alembic revision --autogenerate).
set -euo pipefail
cd "$(dirname "$0")/.."
db="referrals_regen_$$"
psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $db"
trap 'psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $db"' EXIT
rm -f plugin/migrations/versions/0001_*.py
.venv/bin/python - "$db" <<'PY'
import sys
from alembic import command
from plugin.migrations import alembic_config
command.revision(alembic_config(f"postgresql+psycopg://postgres@127.0.0.1:5432/{sys.argv[1]}"),
                 message="initial schema", autogenerate=True, rev_id="0001")
PY
