"""tenants: when and where the share widget was first seen on a listed storefront origin
(the Dashboard's setup checklist)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("widget_seen_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("widget_seen_origin", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("widget_seen_origin")
        batch.drop_column("widget_seen_at")
