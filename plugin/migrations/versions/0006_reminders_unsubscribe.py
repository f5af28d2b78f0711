"""Friend reminders and one-click unsubscribe (issue 13).

friend_claims: remind_opt_in_at (the friend ticked "Remind me before my code expires", and when)
and reminded_at (the reminder was written to the outbox), with a partial index over the claims
still waiting for one. email_suppressions: the addresses that unsubscribed from a shop's
non-transactional e-mail, unique per shop and normalised address. All new columns are nullable:
claims made before this revision asked for no reminder.

Revision ID: 0006_reminders_unsubscribe
Revises: 0005_shop_name_refresh
"""

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = "0006_reminders_unsubscribe"
down_revision = "0005_shop_name_refresh"
branch_labels = None
depends_on = None

DUE = "remind_opt_in_at IS NOT NULL AND reminded_at IS NULL"


def upgrade() -> None:
    op.add_column("friend_claims", sa.Column("remind_opt_in_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column("friend_claims", sa.Column("reminded_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_friend_claims_reminder_due",
        "friend_claims",
        ["tenant_id", "id"],
        postgresql_where=sa.text(DUE),
        sqlite_where=sa.text(DUE),
    )
    op.create_table(
        "email_suppressions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", plugin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "email", name="uq_email_suppression"),
    )
    op.create_index("ix_email_suppressions_tenant_id", "email_suppressions", ["tenant_id"])
    op.create_index("ix_email_suppressions_tenant_created", "email_suppressions", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_email_suppressions_tenant_created", table_name="email_suppressions")
    op.drop_index("ix_email_suppressions_tenant_id", table_name="email_suppressions")
    op.drop_table("email_suppressions")
    op.drop_index("ix_friend_claims_reminder_due", table_name="friend_claims")
    op.drop_column("friend_claims", "reminded_at")
    op.drop_column("friend_claims", "remind_opt_in_at")
