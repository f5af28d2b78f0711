"""The Alembic revisions build exactly the tables the models describe (on the suite's database)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from plugin import db
from plugin.models import Base


def test_models_and_migrations_agree(app):
    with db.engine().connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
