"""reconciliation: runs, bill lines and differences

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 09:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

DIFFERENCE_KINDS = (
    "payment_missing_here", "payment_missing_at_wechat", "payment_amount", "journal_missing",
    "refund_unknown_here", "refund_not_settled_here", "refund_missing_at_wechat",
    "refund_amount", "summary",
)  # fmt: skip


def upgrade():
    op.create_index(
        "ix_donations_paid_at",
        "donations",
        ["paid_at"],
        postgresql_where=sa.text("paid_at IS NOT NULL"),
    )
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bill_found", sa.Boolean(), nullable=False),
        sa.Column("payment_count", sa.Integer(), nullable=False),
        sa.Column("payment_fen", sa.BigInteger(), nullable=False),
        sa.Column("refund_count", sa.Integer(), nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("net_fen", sa.BigInteger(), nullable=False),
        sa.Column("our_payment_count", sa.Integer(), nullable=False),
        sa.Column("our_payment_fen", sa.BigInteger(), nullable=False),
        sa.Column("difference_count", sa.Integer(), nullable=False),
        sa.Column("repaired_count", sa.Integer(), nullable=False),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_index(
        "ix_reconciliation_runs_day", "reconciliation_runs", ["day", sa.literal_column("id DESC")]
    )
    op.create_table(
        "reconciliation_differences",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.Enum(*DIFFERENCE_KINDS, name="difference_kind"), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("out_refund_no", sa.String(length=64), nullable=False),
        sa.Column("wechat_fen", sa.BigInteger(), nullable=True),
        sa.Column("our_fen", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "repaired", "cleared", "resolved", name="difference_status"),
            nullable=False,
        ),
        sa.Column("first_run_id", sa.BigInteger(), nullable=False),
        sa.Column("last_run_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["first_run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_differences_first_run_id_reconciliation_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["last_run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_differences_last_run_id_reconciliation_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["users.id"],
            name=op.f("fk_reconciliation_differences_resolved_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_differences")),
    )
    op.create_index(
        "uq_reconciliation_differences_key",
        "reconciliation_differences",
        ["day", "kind", "out_trade_no", "out_refund_no"],
        unique=True,
    )
    op.create_index(
        "ix_reconciliation_differences_open",
        "reconciliation_differences",
        ["day"],
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "reconciliation_bill_lines",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("payment", "refund", name="bill_line_kind"), nullable=False),
        sa.Column("traded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transaction_id", sa.String(length=32), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("refund_id", sa.String(length=32), nullable=True),
        sa.Column("out_refund_no", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("donation_id", sa.BigInteger(), nullable=True),
        sa.Column("our_refund_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["donation_id"],
            ["donations.id"],
            name=op.f("fk_reconciliation_bill_lines_donation_id_donations"),
        ),
        sa.ForeignKeyConstraint(
            ["our_refund_id"],
            ["refunds.id"],
            name=op.f("fk_reconciliation_bill_lines_our_refund_id_refunds"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_bill_lines")),
        sa.UniqueConstraint(
            "day", "line_no", name=op.f("uq_reconciliation_bill_lines_day_line_no")
        ),
    )


def downgrade():
    op.drop_table("reconciliation_bill_lines")
    op.drop_index("ix_reconciliation_differences_open", table_name="reconciliation_differences")
    op.drop_index("uq_reconciliation_differences_key", table_name="reconciliation_differences")
    op.drop_table("reconciliation_differences")
    op.drop_index("ix_reconciliation_runs_day", table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
    sa.Enum(name="bill_line_kind").drop(op.get_bind())
    sa.Enum(name="difference_status").drop(op.get_bind())
    sa.Enum(name="difference_kind").drop(op.get_bind())
    op.drop_index("ix_donations_paid_at", table_name="donations")
