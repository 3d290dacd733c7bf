"""The public ledgers of a need and of a fund: income with masked donors, disbursed expenses
(walked through the API: submitted, approved, paid) with their published evidence and masked
payees, keyset pages of both, the journal's figures, and the CSV export for Excel."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from backend.api import ledger as ledger_api
from backend.api.schemas.ledger import CSV_COLUMNS, defused, yuan
from backend.common.time import BEIJING
from backend.extensions import db
from backend.funds.models import Fund
from tests.permissions import Actors, login
from tests.spending_support import (
    auth,
    decide,
    disburse,
    evidence,
    fresh_need,
    give,
    spending_team,
    submit,
)
from tests.support import assert_error_shape, counting_queries

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture(scope="module")
def team(app) -> Actors:
    actors = spending_team(app, "PL")
    with app.app_context():
        # one approval by a secretary or committee member, whatever the amount
        db.session.get(Fund, actors.fund_id).committee_threshold_fen = 100_000_000
        db.session.commit()
    return actors


@pytest.fixture(scope="module")
def donor(app) -> str:
    client = app.test_client()
    answer = login(client, "ledger_public_donor")
    named = client.patch("/api/v1/me", json={"nickname": "欧阳明月"}, headers=auth(answer["token"]))
    assert named.status_code == 200, named.get_json()
    return answer["token"]


def paid_expense(client, team: Actors, amount_fen: int, **body: Any) -> dict[str, Any]:
    """An expense submitted, approved and disbursed through the API; the back office's view."""
    submitted = submit(client, team, amount_fen, **body)
    assert submitted.status_code == 201, submitted.get_json()
    expense_id = submitted.get_json()["id"]
    approved = decide(client, team, expense_id, "committee", comment="同意，经办人核对无误")
    assert approved.status_code == 200, approved.get_json()
    paid = disburse(client, team, expense_id)
    assert paid.status_code == 200, paid.get_json()
    return paid.get_json()


def ledger(client, url: str, **query: Any) -> dict[str, Any]:
    response = client.get(url, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def media_path(url: str) -> str:
    """The path and query of a media URL, for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_a_paid_expense_is_shown_with_its_public_evidence(app, client, team, donor) -> None:
    need_id = fresh_need(client, team)
    for amount in (30_000, 20_000):
        give(app, client, donor, amount, need_id=need_id)
    secretary = team.tokens["secretary2"]
    submitted = submit(client, team, 35_000, need_id=need_id, payee_name="张三丰")
    assert submitted.status_code == 201, submitted.get_json()
    expense = submitted.get_json()
    original = expense["attachments"][0]
    (copy,) = evidence(client, secretary)
    redacted = client.post(
        f"/api/v1/expenses/{expense['id']}/redactions",
        json={"attachment_id": original["id"], "upload_id": copy},
        headers=auth(secretary),
    )
    assert redacted.status_code == 200, redacted.get_json()
    assert decide(client, team, expense["id"], "committee", comment="同意").status_code == 200
    # Approved is not yet spent: nothing shows before the disbursement.
    assert ledger(client, f"/api/v1/needs/{need_id}/ledger")["expenses"] == []

    paid = disburse(client, team, expense["id"], voucher_no="PZ-2026-0042")
    assert paid.status_code == 200, paid.get_json()
    back_office = paid.get_json()
    shown = ledger(client, f"/api/v1/needs/{need_id}/ledger")
    (public,) = shown["expenses"]
    assert shown["expenses_next_cursor"] is None
    assert {k: public[k] for k in ("id", "purpose", "payee", "payee_type", "amount_fen",
                                   "voucher_no")} == {
        "id": expense["id"], "purpose": "购买助老餐具一批", "payee": "张**",
        "payee_type": "person", "amount_fen": 35_000, "voucher_no": "PZ-2026-0042",
    }  # fmt: skip
    assert public["need"] == {"id": need_id, "title": "楼道扶手加装"}
    assert datetime.fromisoformat(public["disbursed_at"]).utcoffset().total_seconds() == 8 * 3600
    assert [(a["role"], a["decision"]) for a in public["approvals"]] == [("committee", "approve")]
    assert set(public["approvals"][0]) == {"role", "decision", "decided_at"}
    assert "张三丰" not in str(shown) and "经办人" not in str(shown)

    # The redacted copy and the bank receipt are published; the original is not.
    by_id = {a["id"]: a for a in back_office["attachments"]}
    receipt = next(a for a in by_id.values() if a["stage"] == "disbursement")
    expected = [by_id[original["id"]]["redacted"], receipt["upload"]]
    assert [e["stage"] for e in public["evidence"]] == ["evidence", "disbursement"]
    for item, upload in zip(public["evidence"], expected, strict=True):
        assert item["url"] == upload["url"] and "?" not in item["url"]
        assert item["content_type"] == "image/png"
        for url in (item["url"], item["thumbnail_url"]):
            fetched = client.get(media_path(url))  # anonymous: no login, no signature
            assert fetched.status_code == 200
            assert fetched.headers["Content-Type"].startswith("image/")
    hidden = by_id[original["id"]]["upload"]
    plain = hidden["url"].split("?")[0]
    assert plain not in str(shown)
    assert client.get(urlsplit(plain).path).status_code == 404

    fund = ledger(client, f"/api/v1/funds/{team.fund_id}/ledger", limit=100)
    assert public in fund["expenses"]

    # The journal's figures: what came in, what went out, what is left.
    assert (shown["income_fen"], shown["spent_fen"], shown["balance_fen"]) == (
        50_000, 35_000, 15_000
    )  # fmt: skip
    assert fund["balance_fen"] == fund["income_fen"] - fund["spent_fen"]
    assert fund["spent_fen"] >= 35_000
    summary = client.get(f"/api/v1/funds/{team.fund_id}").get_json()
    assert summary["balance_fen"] == fund["balance_fen"]
    assert summary["spent_fen"] == fund["spent_fen"]


def test_expenses_not_disbursed_never_appear(app, client, team, donor) -> None:
    need_id = fresh_need(client, team)
    give(app, client, donor, 40_000, need_id=need_id)
    waiting = submit(client, team, 1_000, need_id=need_id).get_json()
    approved = submit(client, team, 2_000, need_id=need_id).get_json()
    decide(client, team, approved["id"], "committee")
    rejected = submit(client, team, 3_000, need_id=need_id).get_json()
    decide(client, team, rejected["id"], "committee", "reject", "票据不全")
    cancelled = submit(client, team, 4_000, need_id=need_id).get_json()
    client.post(f"/api/v1/expenses/{cancelled['id']}/cancel", json={"reason": "重复提交"},
                headers=auth(team.tokens["secretary2"]))  # fmt: skip
    unpaid = {waiting["id"], approved["id"], rejected["id"], cancelled["id"]}
    paid = paid_expense(client, team, 5_000, need_id=need_id)

    need = ledger(client, f"/api/v1/needs/{need_id}/ledger")
    assert [e["id"] for e in need["expenses"]] == [paid["id"]]
    fund = ledger(client, f"/api/v1/funds/{team.fund_id}/ledger", limit=100)
    assert unpaid.isdisjoint(e["id"] for e in fund["expenses"])
    assert need["spent_fen"] == 5_000 and need["balance_fen"] == 35_000
    rows = read_csv(client.get(f"/api/v1/needs/{need_id}/ledger.csv"))
    assert [r["金额（元）"] for r in rows if r["类型"] == "支出"] == ["50.00"]
    assert "票据不全" not in str(need) and "重复提交" not in str(need)


def test_expenses_and_income_page_by_their_own_cursors(app, client, team, donor, clock) -> None:
    need_id = fresh_need(client, team)
    other_need_id = fresh_need(client, team)
    space_code = client.get("/api/v1/spaces?limit=100").get_json()["items"][0]["code"]
    for amount in (10_000, 11_000, 12_000, 13_000, 14_000):
        give(app, client, donor, amount, need_id=need_id, space_code=space_code)
    give(app, client, donor, 9_000, need_id=other_need_id)
    # Two disbursed at the very same instant: the id breaks the tie.
    paid = [paid_expense(client, team, 1_000, need_id=need_id)]
    clock.advance(seconds=5)
    paid += [paid_expense(client, team, 1_100, need_id=need_id) for _ in range(2)]
    clock.advance(seconds=5)
    paid += [paid_expense(client, team, 1_200, need_id=need_id) for _ in range(2)]
    paid_expense(client, team, 1_300, need_id=other_need_id)
    newest_first = [e["id"] for e in sorted(paid, key=lambda e: (e["disbursed_at"], e["id"]),
                                            reverse=True)]  # fmt: skip

    url = f"/api/v1/needs/{need_id}/ledger"
    seen, cursor, first = [], None, None
    while True:
        page = ledger(client, url, limit=2, **({"expense_cursor": cursor} if cursor else {}))
        first = first or page
        # The income stays on its first page while the expenses move on.
        assert page["income"]["items"] == first["income"]["items"]
        seen += [e["id"] for e in page["expenses"]]
        cursor = page["expenses_next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first

    incomes, cursor = [], None
    while True:
        page = ledger(client, url, limit=2, **({"cursor": cursor} if cursor else {}))
        assert [e["id"] for e in page["expenses"]] == newest_first[:2]
        incomes += page["income"]["items"]
        cursor = page["income"]["next_cursor"]
        if cursor is None:
            break
    assert [i["amount_fen"] for i in incomes] == [14_000, 13_000, 12_000, 11_000, 10_000]
    assert {i["donor"] for i in incomes} == {"欧**"}
    assert {i["space"]["code"] for i in incomes} == {space_code}

    # No query per row: a page of five costs what a page of one does.
    with counting_queries(app) as one:
        ledger(client, url, limit=1)
    with counting_queries(app) as five:
        assert len(ledger(client, url, limit=5)["expenses"]) == 5
    assert len(five) == len(one)

    # A cursor belongs to its list and its need.
    expense_cursor = first["expenses_next_cursor"]
    foreign = client.get(f"/api/v1/needs/{other_need_id}/ledger",
                         query_string={"expense_cursor": expense_cursor})  # fmt: skip
    assert_error_shape(foreign.get_json(), 400, "cursor_mismatch")
    swapped = client.get(url, query_string={"cursor": expense_cursor})
    assert_error_shape(swapped.get_json(), 400, "invalid_cursor")
    tampered = expense_cursor[:5] + ("B" if expense_cursor[5] == "A" else "A") + expense_cursor[6:]
    forged = client.get(url, query_string={"expense_cursor": tampered})
    assert_error_shape(forged.get_json(), 400, "invalid_cursor")

    # The fund's ledger pages over its needs' expenses together.
    fund_url = f"/api/v1/funds/{team.fund_id}/ledger"
    ids, cursor = [], None
    while True:
        page = ledger(client, fund_url, limit=3, **({"expense_cursor": cursor} if cursor else {}))
        ids += [e["id"] for e in page["expenses"]]
        cursor = page["expenses_next_cursor"]
        if cursor is None:
            break
    assert len(ids) == len(set(ids)) and set(newest_first) <= set(ids)


def read_csv(response: Any) -> list[dict[str, str]]:
    """The rows of a CSV answer, read as Excel would: UTF-8 after the BOM."""
    assert response.status_code == 200
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    assert tuple(header) == CSV_COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


def test_the_csv_export_opens_in_excel(app, client, team, donor, monkeypatch) -> None:
    monkeypatch.setattr(ledger_api, "CSV_BATCH", 2)  # several pages, however few the rows
    need_id = fresh_need(client, team)
    space_code = client.get("/api/v1/spaces?limit=100").get_json()["items"][0]["code"]
    anonymous = login(client, "ledger_csv_anonymous")["token"]
    odd = [1234, 5, 100_000]
    for amount in odd:
        give(app, client, donor, amount, need_id=need_id, space_code=space_code)
    give(app, client, anonymous, 777, need_id=need_id, anonymous=True,
         message="=HYPERLINK(\"http://evil.example\",\"点我\")")  # fmt: skip
    paid = [
        paid_expense(client, team, 12_345, need_id=need_id, payee_name="李小龙"),
        paid_expense(client, team, 3_000, need_id=need_id, payee_type="organization",
                     payee_name="+和园物业服务有限公司", purpose="@维修楼道扶手与照明"),
    ]  # fmt: skip

    response = client.get(f"/api/v1/needs/{need_id}/ledger.csv")
    assert response.is_streamed
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="linshan-need-{need_id}-ledger.csv"; ')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "楼道扶手加装-账本.csv"
    body = response.get_data()
    assert body.count(b"\r\n") == len(odd) + 1 + len(paid) + 1
    assert b"\n" not in body.replace(b"\r\n", b"")
    rows = read_csv(response)

    income = [r for r in rows if r["类型"] == "收入"]
    spent = [r for r in rows if r["类型"] == "支出"]
    assert [r["类型"] for r in rows] == ["收入"] * 4 + ["支出"] * 2  # income, then expenses
    assert [r["金额（元）"] for r in income] == ["12.34", "0.05", "1000.00", "7.77"]
    assert sum(Decimal(r["金额（元）"]) for r in income) == Decimal(sum(odd) + 777) / 100
    assert [r["对方"] for r in income] == ["欧**"] * 3 + ["爱心人士"]
    assert income[0]["慈善空间"] and income[0]["项目"] == "楼道扶手加装"
    assert income[3]["用途/留言"] == '\'=HYPERLINK("http://evil.example","点我")'
    assert income[0]["已退款（元）"] == "0.00"

    json_ledger = ledger(client, f"/api/v1/needs/{need_id}/ledger")
    paid_at = {i["amount_fen"]: i["paid_at"] for i in json_ledger["income"]["items"]}
    shown = datetime.strptime(income[0]["日期"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    assert shown == datetime.fromisoformat(paid_at[1234]).replace(microsecond=0)

    assert [(r["对方"], r["金额（元）"], r["用途/留言"], r["凭证号"]) for r in spent] == [
        ("李**", "123.45", "购买助老餐具一批", "PZ-2026-001"),
        ("'+和园物业服务有限公司", "30.00", "'@维修楼道扶手与照明", "PZ-2026-001"),
    ]
    public = {e["id"]: e for e in json_ledger["expenses"]}
    links = spent[0]["证据链接"].split(" ")
    assert links == [e["url"] for e in public[paid[0]["id"]]["evidence"]]
    assert all(client.get(media_path(link)).status_code == 200 for link in links)
    assert "李小龙" not in body.decode("utf-8-sig")

    # The fund's export holds the need's rows too, and its header once.
    fund_rows = read_csv(client.get(f"/api/v1/funds/{team.fund_id}/ledger.csv"))
    assert {"李**", "欧**"} <= {r["对方"] for r in fund_rows}
    assert sum(1 for r in fund_rows if r["项目"] == "楼道扶手加装") >= 6
    missing = client.get("/api/v1/needs/999999/ledger.csv")
    assert_error_shape(missing.get_json(), 404, "need_not_found")
    assert client.get("/api/v1/funds/999999/ledger.csv").status_code == 404


@pytest.mark.parametrize(
    ("fen", "text"), [(0, "0.00"), (5, "0.05"), (1234, "12.34"), (100, "1.00"),
                      (10**12 + 1, "10000000000.01"), (-1234, "-12.34")],
)  # fmt: skip
def test_yuan_is_exact(fen: int, text: str) -> None:
    assert yuan(fen) == text


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starts_are_defused(cell: str) -> None:
    assert defused(cell) == "'" + cell
    assert defused("张**") == "张**" and defused("12.34") == "12.34"


def test_a_public_ledger_may_be_cached_and_revalidated(app, client, team, donor) -> None:
    need_id = fresh_need(client, team)
    give(app, client, donor, 10_000, need_id=need_id)
    url = f"/api/v1/needs/{need_id}/ledger"
    first = client.get(url)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, no-cache"
    etag = first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    # A new donation changes the page, and so its tag.
    give(app, client, donor, 20_000, need_id=need_id)
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    # A donor's own page is theirs alone: no shared caching.
    assert "public" not in client.get("/api/v1/me/donations").headers.get("Cache-Control", "")
