"""Where each donation's money went: the allocation of disbursed expenses to donations.

THE RULE. When an expense is disbursed, its amount is taken from the paid donations of the
account it is paid from — the need's donations for an expense of a need, the donations to
the fund's general pool (no need, or `pooled`: their need closed and what was left of them
moved to the pool) for a pool expense — oldest first, by `paid_at`, then by `id`; each
donation gives all that is left of it (amount − refunded − being refunded − allocated)
before the next one is touched, so an expense leaves at most one donation partly spent.
Allocations are fixed at disbursement and never move: a later payment (even one whose
payment time is older, notified late: the next expense takes it first), a later expense
or anything else leaves them as they are.

Money reaches a need's account only from donations to the need, and a pool's account only
from donations without a need and from closed needs' leftovers (whose donations are then
`pooled`), so the account's balance (checked by the disbursement under
the account's spending lock) equals what its donations have left: the expense is always
covered. If it is not, something is wrong with the books, and `allocate` refuses
(`allocation_short`) rather than record less than was paid.

Refunds keep `allocated_fen + refunded_fen + refunding_fen <= amount_fen` (the model's
check `allocation_within_amount`): money already spent can no longer be refunded, and money
being refunded can no longer be spent. Should a
donation change while the statement runs, the statement does not write it and `allocate`
fails whole (`allocation_changed`).

The walk over the donations is one statement: a recursive CTE reads the account's
unallocated donations in the order of the partial index `ix_donations_unallocated`
(fund_id, need_id, paid_at, id; only rows with money left; `ix_donations_pool_unallocated`
for a pool), in chunks of 64, 128, … 8,192
rows, until what it has read covers the amount; a running sum (a window) over those rows
picks the donations taken and how much of each; the same statement inserts the allocations
and adds to `donations.allocated_fen`. It reads at most about twice the rows it consumes
(plus 64) and writes only the rows it consumes, however many donations the need has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from backend.common.errors import DomainError, Kind, conflict
from backend.common.money import yuan
from backend.common.paging import Page
from backend.common.time import utcnow
from backend.donations.models import Donation
from backend.donations.services import OWN_COLUMNS, donations_of, own_list
from backend.extensions import db
from backend.spending.models import Allocation, Expense, ExpenseStatus

#: the first chunk of donations read; each next one is twice as large, up to the last
FIRST_CHUNK = 64
MAX_CHUNK = 8192

#: The allocation of one expense, in one statement. `{account}` is the account's condition
#: on the index's second column (a need's id, or NULL for the pool): the same text as the
#: partial index's predicate follows, so the planner walks that index in order.
ALLOCATE_SQL = """
WITH RECURSIVE chunk (step, last_paid_at, last_id, covered, ids, lefts) AS (
    SELECT 0, CAST('-infinity' AS timestamptz), CAST(0 AS bigint), CAST(0 AS bigint),
        CAST(ARRAY[] AS bigint[]), CAST(ARRAY[] AS bigint[])
    UNION ALL
    SELECT chunk.step + 1, next.last_paid_at, next.ids[cardinality(next.ids)],
        chunk.covered + next.total, next.ids, next.lefts
    FROM chunk CROSS JOIN LATERAL (
        SELECT max(d.paid_at) AS last_paid_at, CAST(sum(d.left_fen) AS bigint) AS total,
            array_agg(d.id ORDER BY d.paid_at, d.id) AS ids,
            array_agg(d.left_fen ORDER BY d.paid_at, d.id) AS lefts
        FROM (
            SELECT id, paid_at, amount_fen - refunded_fen - refunding_fen - allocated_fen AS left_fen
            FROM donations
            WHERE fund_id = :fund_id AND {account}
                AND paid_at IS NOT NULL AND allocated_fen + refunded_fen < amount_fen
                AND allocated_fen + refunded_fen + refunding_fen < amount_fen
                AND (paid_at, id) > (chunk.last_paid_at, chunk.last_id)
            ORDER BY paid_at, id
            LIMIT CAST(least(:max_chunk, :first_chunk * power(2, chunk.step)) AS bigint)
        ) d
        HAVING count(*) > 0
    ) next
    WHERE chunk.covered < :amount
), candidate AS (
    SELECT u.donation_id, u.left_fen,
        CAST(sum(u.left_fen) OVER (ORDER BY chunk.step, u.ord) AS bigint) - u.left_fen
            AS before
    FROM chunk CROSS JOIN LATERAL unnest(chunk.ids, chunk.lefts) WITH ORDINALITY
        AS u(donation_id, left_fen, ord)
), take AS (
    SELECT donation_id, least(left_fen, CAST(:amount AS bigint) - before) AS amount_fen
    FROM candidate
    WHERE before < :amount
), inserted AS (
    INSERT INTO allocations (donation_id, expense_id, amount_fen)
    SELECT donation_id, :expense_id, amount_fen FROM take
    RETURNING id, donation_id, expense_id, amount_fen
), bumped AS (
    -- the guard holds unless the row changed since the statement began (a refund): then
    -- it is not written, and the counts below differ
    UPDATE donations d
    SET allocated_fen = d.allocated_fen + take.amount_fen, updated_at = :now
    FROM take
    WHERE d.id = take.donation_id
        AND d.allocated_fen + d.refunded_fen + d.refunding_fen + take.amount_fen
            <= d.amount_fen
    RETURNING d.id
)
SELECT count(*) AS donation_count, CAST(coalesce(sum(amount_fen), 0) AS bigint) AS amount_fen,
    (SELECT count(*) FROM bumped) AS bumped
FROM inserted
"""

_NEED_SQL = sa.text(ALLOCATE_SQL.format(account="need_id = :need_id AND NOT pooled"))
_POOL_SQL = sa.text(ALLOCATE_SQL.format(account="(need_id IS NULL OR pooled)"))


@dataclass(frozen=True)
class AllocationTotals:
    """How many donations an expense was allocated to, and the sum allocated."""

    donation_count: int
    amount_fen: int


def allocate(expense: Expense) -> AllocationTotals:
    """Allocate a disbursed expense to its account's donations, oldest first (THE RULE
    above): how many donations it was allocated to, and the sum (flushes, no commit).

    Called by the disbursement while it holds the account's spending lock, after the
    balance check: two allocations of one account never run at once. Refuses an expense
    that is not disbursed or already allocated, and raises `allocation_short` (nothing is
    kept: the caller's transaction is rolled back) when the donations cannot cover it.
    The allocations themselves stay in the database (`allocations_for`, the `allocations`
    table): an expense may span a hundred thousand donations, and loading them as objects
    would cost more than making them.
    """
    if expense.status != ExpenseStatus.DISBURSED:
        raise conflict("expense_not_disbursed", "支出尚未拨付，不能分配到捐赠")
    db.session.flush()
    already = db.session.scalar(
        sa.select(sa.literal(True)).where(Allocation.expense_id == expense.id).limit(1)
    )
    if already:
        raise conflict("expense_already_allocated", "该支出已分配到捐赠，分配不可更改")
    params = {
        "fund_id": expense.fund_id,
        "need_id": expense.need_id,
        "amount": expense.amount_fen,
        "expense_id": expense.id,
        "first_chunk": FIRST_CHUNK,
        "max_chunk": MAX_CHUNK,
        "now": utcnow(),
    }
    statement = _NEED_SQL if expense.need_id is not None else _POOL_SQL
    if expense.need_id is None:
        params.pop("need_id")
    made = db.session.execute(statement, params).one()
    if made.amount_fen != expense.amount_fen:
        where = "项目" if expense.need_id is not None else "基金池"
        raise DomainError(
            Kind.CONFLICT,
            "allocation_short",
            f"{where}未分配的捐赠不足以覆盖本次支出：支出{yuan(expense.amount_fen)}，"
            f"可分配{yuan(made.amount_fen)}",
        )
    if made.bumped != made.donation_count:
        # A donation changed while the statement ran (a refund): try the disbursement again.
        raise DomainError(Kind.CONFLICT, "allocation_changed", "捐赠记录刚刚发生变化，请重新拨付")
    _expire_donations()
    return AllocationTotals(int(made.donation_count), int(made.amount_fen))


def _expire_donations() -> None:
    """Expire what the session holds of donations' allocated amounts (the statement
    changed some of them behind its back)."""
    session = db.session()
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Donation):
            session.expire(loaded, ["allocated_fen", "updated_at"])


@dataclass(frozen=True)
class DonationAllocation:
    """What one donation paid for: an expense, how much of it, and when it was paid."""

    expense_id: int
    amount_fen: int
    purpose: str
    disbursed_at: datetime | None


def allocations_for(donation_ids: Iterable[int]) -> dict[int, list[DonationAllocation]]:
    """Each donation's allocations (a page of donations in one query), the earliest
    disbursement first; a donation with none maps to an empty list."""
    ids = list(dict.fromkeys(donation_ids))
    found: dict[int, list[DonationAllocation]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = db.session.execute(
        sa.select(
            Allocation.donation_id,
            Allocation.expense_id,
            Allocation.amount_fen,
            Expense.purpose,
            Expense.disbursed_at,
        )
        .join(Expense, Expense.id == Allocation.expense_id)
        .where(Allocation.donation_id.in_(ids))
        .order_by(Allocation.donation_id, Expense.disbursed_at, Expense.id)
    )
    for row in rows:
        found[row.donation_id].append(
            DonationAllocation(row.expense_id, row.amount_fen, row.purpose, row.disbursed_at)
        )
    return found


@dataclass(frozen=True, slots=True)
class AllocatedDonation:
    """A donation as its donor sees it (`donations.services.OWN_COLUMNS`) together with
    what its money paid for."""

    id: int
    out_trade_no: str | None
    status: str
    amount_fen: int
    refunded_fen: int
    refunding_fen: int
    allocated_fen: int
    need_id: int | None
    fund_id: int
    anonymous: bool
    public_name: str
    message: str
    created_at: datetime
    expires_at: datetime | None
    paid_at: datetime | None
    allocations: list[DonationAllocation]


def _allocated(donation: Any, allocations: list[DonationAllocation]) -> AllocatedDonation:
    """A donation (a model or a row of `OWN_COLUMNS`) with its allocations."""
    return AllocatedDonation(*(getattr(donation, c.key) for c in OWN_COLUMNS), allocations)


def with_allocations(donations: Sequence[Donation]) -> list[AllocatedDonation]:
    """Attach each donation's allocations, fetched for all of them in one query."""
    found = allocations_for(d.id for d in donations)
    return [_allocated(d, found[d.id]) for d in donations]


#: a donation's allocations as a JSON list, the earliest disbursement first (the order of
#: `allocations_for`), for the page's own statement
_ALLOCATIONS_JSON = (
    sa.select(sa.func.coalesce(
        sa.func.json_agg(aggregate_order_by(
            sa.func.json_build_object(
                "expense_id", Allocation.expense_id, "amount_fen", Allocation.amount_fen,
                "purpose", Expense.purpose, "disbursed_at", Expense.disbursed_at,
            ),
            Expense.disbursed_at, Expense.id,
        )),
        sa.literal_column("'[]'::json"),
    ))
    .select_from(Allocation)
    .join(Expense, Expense.id == Allocation.expense_id)
    .where(Allocation.donation_id == Donation.id)
    .scalar_subquery()
    .label("allocations")
)  # fmt: skip
#: the user's donations, each with its allocations
_ALLOCATED = own_list(_ALLOCATIONS_JSON)


def _from_json(item: dict[str, Any]) -> DonationAllocation:
    disbursed_at = item["disbursed_at"]
    return DonationAllocation(
        item["expense_id"], item["amount_fen"], item["purpose"],
        datetime.fromisoformat(disbursed_at) if disbursed_at else None,
    )  # fmt: skip


def allocated_donations_of(user_id: int, limit: int, after: int | None) -> Page[AllocatedDonation]:
    """A page of the user's donations with their allocations, in one statement."""
    page = donations_of(user_id, limit, after, _ALLOCATED)
    items = [_allocated(row, [_from_json(a) for a in row.allocations]) for row in page.items]
    return Page(items, page.more)


def expense_allocations(expense_id: int) -> AllocationTotals:
    """An expense's allocations, counted and summed (the sum equals a disbursed expense's
    amount: for consistency checks)."""
    count, total = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Allocation.amount_fen), 0)).where(
            Allocation.expense_id == expense_id
        )
    ).one()
    return AllocationTotals(int(count), int(total))
