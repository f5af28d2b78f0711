"""Reward kinds, tiers and milestones (issue 12).

coupons: rate and base_amount (a commission: its percentage and the order amount it was taken
from), award_key (unique per shop: a milestone bonus is paid once per advocate and milestone),
lookup_key and saleor_gift_card_id (store credit is a Saleor gift card, found again by our key in
its metadata). orders: subtotal_net and shipping_discount as Saleor reported them. referrals:
friend_rank, the advocate's count of rewarded friends at approval (it picks the tier). All
nullable: rows written before this revision simply have none.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch: SQLite cannot add a unique constraint to an existing table in place
    with op.batch_alter_table("coupons") as batch:
        batch.add_column(sa.Column("rate", sa.Numeric(precision=9, scale=4), nullable=True))
        batch.add_column(sa.Column("base_amount", sa.Numeric(precision=18, scale=4), nullable=True))
        batch.add_column(sa.Column("award_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lookup_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("saleor_gift_card_id", sa.String(length=255), nullable=True))
        batch.create_unique_constraint("uq_coupon_award", ["tenant_id", "award_key"])
    op.add_column("orders", sa.Column("subtotal_net", sa.Numeric(precision=18, scale=4), nullable=True))
    op.add_column("orders", sa.Column("shipping_discount", sa.Numeric(precision=18, scale=4), nullable=True))
    op.add_column("referrals", sa.Column("friend_rank", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("referrals", "friend_rank")
    op.drop_column("orders", "shipping_discount")
    op.drop_column("orders", "subtotal_net")
    with op.batch_alter_table("coupons") as batch:
        batch.drop_constraint("uq_coupon_award", type_="unique")
        batch.drop_column("saleor_gift_card_id")
        batch.drop_column("lookup_key")
        batch.drop_column("award_key")
        batch.drop_column("base_amount")
        batch.drop_column("rate")
