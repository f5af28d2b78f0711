"""The models and the migrations describe the same schema: after `upgrade head`, Alembic's
autogenerate finds nothing to add, drop or alter, on PostgreSQL and on SQLite."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, Text

from plugin.migrations import upgrade
from plugin.models import Base
from tests.migrations.conftest import engine_for

COMPARE = {"compare_type": True, "compare_server_default": True}


def differences(url: str, metadata: MetaData) -> list:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts=COMPARE), metadata)
    finally:
        engine.dispose()


def test_autogenerate_finds_nothing_after_upgrading_to_head(blank_database):
    upgrade(blank_database)
    assert differences(blank_database, Base.metadata) == []


def test_a_model_change_without_a_revision_is_found(blank_database):
    """The comparison above can fail: a column added to a model and an index dropped from one show up."""
    upgrade(blank_database)
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["coupons"].append_column(Column("note", Text, nullable=True))
    orders = changed.tables["orders"]
    orders.indexes.discard(next(i for i in orders.indexes if i.name == "ix_orders_tenant_email"))

    found = sorted(
        (diff[0], f"{diff[2]}.{diff[3].name}" if diff[0] == "add_column" else diff[1].name)
        for diff in differences(blank_database, changed)
    )
    assert found == [("add_column", "coupons.note"), ("remove_index", "ix_orders_tenant_email")]
