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

COUNTED = "('paid', 'refunding', 'partially_refunded')"
#: a donation's part in its need's month (the rule of backend/donations/totals.py, as it
#: stood when this ran), for the rows NEW or OLD, added with SIGN
UPSERT = """
        INSERT INTO need_month_totals AS t (need_id, month, slot, net_fen, counted)
        VALUES ({row}.need_id,
                date_trunc('month', {row}.paid_at AT TIME ZONE 'Asia/Shanghai')::date,
                pg_backend_pid() % 8,
                {sign} ({row}.amount_fen - {row}.refunded_fen),
                {sign} ({row}.status IN {counted})::int)
        ON CONFLICT (need_id, month, slot) DO UPDATE
        SET net_fen = t.net_fen + excluded.net_fen, counted = t.counted + excluded.counted;
"""
#: a row that has a part in a need's month
HAS_PART = "{row}.paid_at IS NOT NULL AND {row}.need_id IS NOT NULL"


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
    # Row-level, and only for rows whose part changes (the WHEN clauses): a pending order,
    # a duplicate notification or a donor's name removed never call it; a payment makes one
    # small upsert, in its own transaction (the slot spreads one need's month over a few
    # rows, so concurrent payments do not queue on one). Its plans are cached per session.
    old, new = HAS_PART.format(row="OLD"), HAS_PART.format(row="NEW")
    op.execute(f"""
        CREATE FUNCTION need_month_totals_keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' AND {old} THEN
                {UPSERT.format(row="OLD", sign="-", counted=COUNTED)}
            END IF;
            IF TG_OP <> 'DELETE' AND {new} THEN
                {UPSERT.format(row="NEW", sign="", counted=COUNTED)}
            END IF;
            RETURN NULL;
        END $$;
    """)
    changed = " OR ".join(
        f"OLD.{c} IS DISTINCT FROM NEW.{c}"
        for c in ("need_id", "paid_at", "amount_fen", "refunded_fen", "status")
    )
    for name, event, when in (
        ("insert", "INSERT", new),
        ("update", "UPDATE OF need_id, paid_at, amount_fen, refunded_fen, status", changed),
        ("delete", "DELETE", old),
    ):
        op.execute(
            f"CREATE TRIGGER need_month_totals_{name} AFTER {event} ON donations FOR EACH ROW"
            f" WHEN ({when}) EXECUTE FUNCTION need_month_totals_keep()"
        )
    op.execute(f"""
        INSERT INTO need_month_totals (need_id, month, slot, net_fen, counted)
        SELECT need_id, date_trunc('month', paid_at AT TIME ZONE 'Asia/Shanghai')::date, 0,
               sum(amount_fen - refunded_fen), count(*) FILTER (WHERE status IN {COUNTED})
        FROM donations WHERE paid_at IS NOT NULL AND need_id IS NOT NULL GROUP BY 1, 2
    """)


def downgrade():
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER need_month_totals_{event} ON donations")
    op.execute("DROP FUNCTION need_month_totals_keep()")
    op.drop_table("need_month_totals")
