"""Public ledgers: every donation a need or fund received (donors masked), every disbursed
expense with its published evidence (payees who are people masked), the journal's figures;
and the same as a CSV file an accountant opens in Excel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import Response, stream_with_context

from backend.api.base import Blueprint, decode_cursor, encode_cursor, id_page, invalid_cursor
from backend.api.lookups import fund_or_404
from backend.api.public_cache import NOT_MODIFIED_DOC, public_answer
from backend.api.schemas.ledger import (
    CSV_COLUMNS,
    CSV_DOC,
    LedgerArgsSchema,
    LedgerSchema,
    csv_text,
    expense_row,
    income_row,
)
from backend.api.uploads import RFC5987_SAFE
from backend.common.paging import Page
from backend.common.text import CONTROL_CHARACTERS
from backend.donations.services import income_page
from backend.extensions import db
from backend.funds.services import fund_account_names
from backend.needs.services import public_need
from backend.spending.public import (
    PublicExpense,
    disbursed_page,
    ledger_totals,
    public_need_totals,
)

blp = Blueprint("ledger", __name__, description="公开账本")

#: rows read per query while a CSV file streams (memory stays constant however long it is)
CSV_BATCH = 500
#: the byte order mark that tells Excel the file is UTF-8
BOM = "\ufeff"


def expense_page(kind: str, cursor: str | None, filters: dict[str, Any],
                 fetch: Callable[[tuple[datetime, int] | None], Page[PublicExpense]]) -> dict[str, Any]:  # fmt: skip
    """`{expenses, expenses_next_cursor}` of a list keyed by `(disbursed_at, id)`."""
    after = None
    if cursor:
        key = decode_cursor(kind, cursor, filters)
        try:
            after = (datetime.fromisoformat(key[0]), int(key[1]))
        except (IndexError, TypeError, ValueError):
            raise invalid_cursor() from None
        if after[0].tzinfo is None:
            raise invalid_cursor()
    page = fetch(after)
    next_cursor = None
    if page.more and page.items:
        last = page.items[-1]
        next_cursor = encode_cursor(kind, [last.disbursed_at.isoformat(), last.id], filters)
    return {"expenses": page.items, "expenses_next_cursor": next_cursor}


@blp.get("/needs/<int:need_id>/ledger")
@public_answer
@blp.arguments(LedgerArgsSchema, location="query", as_kwargs=True)
@blp.response(200, LedgerSchema)
@blp.doc(responses=NOT_MODIFIED_DOC)
def need_ledger(need_id: int, limit: int, cursor: str | None,
                expense_cursor: str | None) -> dict[str, Any]:  # fmt: skip
    """Every donation the need received (masked donors), its disbursed expenses, its figures."""
    totals = public_need_totals(need_id)  # first: a need the public may not see is a 404
    filters = {"need": need_id}
    return {
        "income": id_page("need-ledger", cursor, filters,
                          lambda after: income_page(need_id=need_id, limit=limit, after=after)),
        **expense_page("need-expenses", expense_cursor, filters,
                       lambda after: disbursed_page(need_id=need_id, limit=limit, after=after)),
        **asdict(totals),
    }  # fmt: skip


@blp.get("/funds/<int:fund_id>/ledger")
@public_answer
@blp.arguments(LedgerArgsSchema, location="query", as_kwargs=True)
@blp.response(200, LedgerSchema)
@blp.doc(responses=NOT_MODIFIED_DOC)
def fund_ledger(fund_id: int, limit: int, cursor: str | None,
                expense_cursor: str | None) -> dict[str, Any]:  # fmt: skip
    """Every donation to the fund (its needs and its pool), its disbursed expenses, figures."""
    fund = fund_or_404(fund_id)
    filters = {"fund": fund.id}
    return {
        "income": id_page("fund-ledger", cursor, filters,
                          lambda after: income_page(fund_id=fund.id, limit=limit, after=after)),
        **expense_page("fund-expenses", expense_cursor, filters,
                       lambda after: disbursed_page(fund_id=fund.id, limit=limit, after=after)),
        **asdict(ledger_totals(fund_account_names(fund.id))),
    }  # fmt: skip


@blp.get("/needs/<int:need_id>/ledger.csv")
@blp.doc(responses=CSV_DOC)
def need_ledger_csv(need_id: int) -> Response:
    """The need's ledger as a CSV file for Excel (UTF-8 with BOM): income, then expenses."""
    need = public_need(need_id)
    return csv_response(
        f"linshan-need-{need.id}-ledger", f"{need.title}-账本", {"need_id": need.id}
    )


@blp.get("/funds/<int:fund_id>/ledger.csv")
@blp.doc(responses=CSV_DOC)
def fund_ledger_csv(fund_id: int) -> Response:
    """The fund's ledger as a CSV file for Excel (UTF-8 with BOM): income, then expenses."""
    fund = fund_or_404(fund_id)
    return csv_response(f"linshan-fund-{fund.id}-ledger", f"{fund.name}-账本", {"fund_id": fund.id})


def csv_response(ascii_stem: str, name: str, owner: dict[str, int]) -> Response:
    """A streamed CSV download of the ledger of `owner` (`need_id` or `fund_id`)."""
    name = CONTROL_CHARACTERS.sub("", name) or ascii_stem
    disposition = (
        f'attachment; filename="{ascii_stem}.csv"; '
        f"filename*=UTF-8''{quote(name + '.csv', safe=RFC5987_SAFE)}"
    )
    body = stream_with_context(csv_chunks(owner))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = disposition
    return response


def csv_chunks(owner: dict[str, int]) -> Iterator[bytes]:
    """The file in chunks of a page each: the BOM and the header, every received donation
    oldest first, then every disbursed expense oldest first.

    Each page is read in a short transaction that ends before its rows are sent, so a slow
    download holds no database connection while the client reads (nothing is written here;
    the request's own transaction ended with the response's headers)."""
    yield (BOM + csv_text([list(CSV_COLUMNS)])).encode()
    after: Any = None
    while True:
        income = income_page(**owner, limit=CSV_BATCH, after=after, newest_first=False)
        chunk = csv_text(income_row(item) for item in income.items)
        db.session.close()
        yield chunk.encode()
        if not income.more:
            break
        after = income.items[-1].id
    after = None
    while True:
        expenses = disbursed_page(**owner, limit=CSV_BATCH, after=after, newest_first=False)
        chunk = csv_text(expense_row(expense) for expense in expenses.items)
        after = (expenses.items[-1].disbursed_at, expenses.items[-1].id) if expenses.items else None
        db.session.close()
        yield chunk.encode()
        if not expenses.more:
            break
