"""stats indexes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 08:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    # The stats roll-up sums a region's received donations per need from this index alone
    # (backend/donations/models.py declares it).
    op.create_index(
        "ix_donations_need_received",
        "donations",
        ["need_id"],
        unique=False,
        postgresql_include=["paid_at", "amount_fen", "refunded_fen", "status"],
        postgresql_where=sa.text("paid_at IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_donations_need_received", table_name="donations")
