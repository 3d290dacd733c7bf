"""refunds, leftover decisions, refunding and pooled donations

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 09:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

POOL_UNALLOCATED = (
    "(need_id IS NULL OR pooled) AND paid_at IS NOT NULL"
    " AND allocated_fen + refunded_fen < amount_fen"
)


def upgrade():
    op.add_column(
        "donations",
        sa.Column("refunding_fen", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "donations", sa.Column("pooled", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.drop_constraint(op.f("ck_donations_allocation_within_amount"), "donations", type_="check")
    op.create_check_constraint(
        "allocation_within_amount",
        "donations",
        "allocated_fen >= 0 AND refunding_fen >= 0"
        " AND allocated_fen + refunded_fen + refunding_fen <= amount_fen",
    )
    op.create_index(
        "ix_donations_pool_unallocated",
        "donations",
        ["fund_id", "paid_at", "id"],
        postgresql_where=sa.text(POOL_UNALLOCATED),
    )
    leftover_action = sa.Enum("refund", "to_pool", name="leftover_action")
    op.create_table(
        "need_leftovers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("action", leftover_action, nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.String(length=500), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("journal_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_need_leftovers_amount_positive")),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_need_leftovers_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["journal_entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_need_leftovers_journal_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["need_id"], ["needs.id"], name=op.f("fk_need_leftovers_need_id_needs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_need_leftovers")),
        sa.UniqueConstraint("journal_entry_id", name=op.f("uq_need_leftovers_journal_entry_id")),
        sa.UniqueConstraint("need_id", name=op.f("uq_need_leftovers_need_id")),
    )
    refund_status = sa.Enum("requested", "processing", "succeeded", "failed", name="refund_status")
    op.create_table(
        "refunds",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("donation_id", sa.BigInteger(), nullable=False),
        sa.Column("out_refund_no", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", refund_status, nullable=False),
        sa.Column("refund_id", sa.String(length=32), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("leftover_id", sa.BigInteger(), nullable=True),
        sa.Column("failure", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("journal_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint(
            "status <> 'succeeded' OR (journal_entry_id IS NOT NULL AND settled_at IS NOT NULL)",
            name=op.f("ck_refunds_succeeded_has_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["donation_id"], ["donations.id"], name=op.f("fk_refunds_donation_id_donations")
        ),
        sa.ForeignKeyConstraint(
            ["journal_entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_refunds_journal_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["leftover_id"],
            ["need_leftovers.id"],
            name=op.f("fk_refunds_leftover_id_need_leftovers"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_refunds_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("journal_entry_id", name=op.f("uq_refunds_journal_entry_id")),
        sa.UniqueConstraint("out_refund_no", name=op.f("uq_refunds_out_refund_no")),
    )
    op.create_index(op.f("ix_refunds_donation_id"), "refunds", ["donation_id"])
    op.create_index(op.f("ix_refunds_leftover_id"), "refunds", ["leftover_id"])
    op.create_index(
        "ix_refunds_open",
        "refunds",
        ["created_at"],
        postgresql_where=sa.text("status IN ('requested', 'processing')"),
    )


def downgrade():
    op.drop_index("ix_refunds_open", table_name="refunds")
    op.drop_index(op.f("ix_refunds_leftover_id"), table_name="refunds")
    op.drop_index(op.f("ix_refunds_donation_id"), table_name="refunds")
    op.drop_table("refunds")
    op.drop_table("need_leftovers")
    sa.Enum(name="refund_status").drop(op.get_bind())
    sa.Enum(name="leftover_action").drop(op.get_bind())
    op.drop_index("ix_donations_pool_unallocated", table_name="donations")
    op.drop_constraint(op.f("ck_donations_allocation_within_amount"), "donations", type_="check")
    op.create_check_constraint(
        "allocation_within_amount",
        "donations",
        "allocated_fen >= 0 AND allocated_fen + refunded_fen <= amount_fen",
    )
    op.drop_column("donations", "pooled")
    op.drop_column("donations", "refunding_fen")
