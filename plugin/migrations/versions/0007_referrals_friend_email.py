"""referrals (tenant_id, friend_email): the "was this friend referred before" check of every referred
order and the friend reminders' join read every referral of the shop without it (550-960 rows per
referred order in the issue-15 bench). An index only: nothing to move, nothing to lose on downgrade.

Revision ID: 0007_referrals_friend_email
Revises: 0006_reminders_unsubscribe
"""

from alembic import op

revision = "0007_referrals_friend_email"
down_revision = "0006_reminders_unsubscribe"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_referrals_tenant_friend_email", "referrals", ["tenant_id", "friend_email"])


def downgrade() -> None:
    op.drop_index("ix_referrals_tenant_friend_email", table_name="referrals")
