"""referrals (advocate_id, state) and (order_record_id): counting an advocate's rewarded friends
(tiers, milestones), the fraud rules' rewards-in-30-days, and every pass over an order looking for
its referral read every referral of the shop without them (9-12 sequential scans, 430-570 rows per
referred order in the issue-15 bench). Indexes only: nothing to move, nothing to lose on downgrade.

Revision ID: 0008_referrals_advocate_state
Revises: 0007_referrals_friend_email
"""

from alembic import op

revision = "0008_referrals_advocate_state"
down_revision = "0007_referrals_friend_email"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_referrals_advocate_state", "referrals", ["advocate_id", "state"])
    op.create_index("ix_referrals_order_record", "referrals", ["order_record_id"])


def downgrade() -> None:
    op.drop_index("ix_referrals_order_record", table_name="referrals")
    op.drop_index("ix_referrals_advocate_state", table_name="referrals")
