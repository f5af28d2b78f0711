"""tenants.shop_name_checked_at: when the shop's name was last asked from Saleor (the daily refresh
claims a shop by setting it, so one Saleor call per shop per day, whatever the outcome). Nullable:
shops installed before this revision are refreshed on the first sweep.

Revision ID: 0005_shop_name_refresh
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = "0005_shop_name_refresh"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("shop_name_checked_at", plugin.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("shop_name_checked_at")
