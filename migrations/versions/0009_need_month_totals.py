"""need month totals, kept by triggers on donations

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 08:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: a donation's part in its need's month: net received and whether it counts (the rule of
#: backend/donations/totals.py, as it stood when this ran)
CONTRIBUTION = """
    SELECT need_id, date_trunc('month', paid_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
           {sign} (amount_fen - refunded_fen) AS net_fen,
           {sign} (status IN ('paid', 'refunding', 'partially_refunded'))::int AS counted
    FROM {rows} WHERE paid_at IS NOT NULL AND need_id IS NOT NULL
"""


def upgrade():
    op.create_table(
        "need_month_totals",
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("net_fen", sa.BigInteger(), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["need_id"], ["needs.id"], name=op.f("fk_need_month_totals_need_id_needs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("need_id", "month", "slot", name=op.f("pk_need_month_totals")),
    )
    new = CONTRIBUTION.format(sign="", rows="new_rows")
    old = CONTRIBUTION.format(sign="-", rows="old_rows")
    upsert = """
        INSERT INTO need_month_totals AS t (need_id, month, slot, net_fen, counted)
        SELECT need_id, month, pg_backend_pid() % 8, sum(net_fen), sum(counted)
        FROM ({changes}) AS d GROUP BY need_id, month
        HAVING sum(net_fen) <> 0 OR sum(counted) <> 0
        ON CONFLICT (need_id, month, slot) DO UPDATE
        SET net_fen = t.net_fen + excluded.net_fen, counted = t.counted + excluded.counted;
    """
    # Statement-level, with transition tables: a bulk load costs one pass, a payment one
    # small upsert in its own transaction. Only the branch of the operation runs (PL/pgSQL
    # plans a statement when it first executes it).
    op.execute(f"""
        CREATE FUNCTION need_month_totals_keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {upsert.format(changes=new)}
            ELSIF TG_OP = 'UPDATE' THEN
                {upsert.format(changes=new + " UNION ALL " + old)}
            ELSE
                {upsert.format(changes=old)}
            END IF;
            RETURN NULL;
        END $$;
    """)
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER need_month_totals_{event.lower()} AFTER {event} ON donations"
            f" REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION need_month_totals_keep()"
        )
    op.execute(
        "INSERT INTO need_month_totals (need_id, month, slot, net_fen, counted)"
        " SELECT need_id, month, 0, sum(net_fen), sum(counted)"
        f" FROM ({CONTRIBUTION.format(sign='', rows='donations')}) AS d GROUP BY need_id, month"
    )


def downgrade():
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER need_month_totals_{event} ON donations")
    op.execute("DROP FUNCTION need_month_totals_keep()")
    op.drop_table("need_month_totals")
