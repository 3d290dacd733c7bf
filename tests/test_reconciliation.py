"""The daily reconciliation of WeChat Pay's bill against the books, end to end through the
sandbox: a lost notification repaired once, differences injected into the real bill text
reported exactly, resolved with a note, the accounting export read back, the API's rights,
the worker's daily job; and amounts read from the bill as exact fen."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backend.audit.models import AuditEvent
from backend.common.money import yuan
from backend.common.time import BEIJING
from backend.donations.models import Donation, DonationStatus
from backend.donations.services import apply_payment
from backend.extensions import db
from backend.jobs import tasks
from backend.ledger.models import JournalEntry
from backend.payments.wechat_pay import download_bill, parse_notification
from backend.reconciliation.bill import BillFormatError, parse_bill, yuan_to_fen
from backend.reconciliation.models import (
    BillLine,
    ReconciliationDifference,
    ReconciliationRun,
)
from backend.reconciliation.services import reconcile
from backend.refunds.models import Refund, RefundStatus
from tests.conftest import Clock, free_port
from tests.payments_support import notification, sandbox_pay, to_xml, wait_deliveries
from tests.permissions import Actors, login
from tests.spending_support import auth, fresh_need, spending_team
from tests.v3_support import both_pay_versions

pytestmark = pytest.mark.usefixtures("demo", "live_server")

#: days a month ahead, past the demo's history and every other test's payments (the app's
#: and the sandbox's clocks are moved there): each test reconciles its own
AHEAD = datetime.now(BEIJING).date() + timedelta(days=30)
NO_BILL_DAY, REPAIR_DAY, INJECTED_DAY, REFUND_DAY, JOB_DAY, API_DAY = (
    AHEAD + timedelta(days=2 * n) for n in range(6)
)


# ---------------------------------------------------------------- yuan → fen, as properties


def reference_text(fen: int) -> str:
    """Yuan text written independently of the code under test (Decimal, not divmod)."""
    return f"{Decimal(fen) / 100:.2f}"


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=10_000_000))
@example(0)
@example(6)
@example(10_000_000)
def test_yuan_text_reads_back_as_the_same_fen(fen: int) -> None:
    assert yuan_to_fen(reference_text(fen)) == fen
    assert yuan_to_fen(yuan(fen, symbol="", grouping=False)) == fen
    if fen:
        assert yuan_to_fen("-" + reference_text(fen)) == -fen


#: what WeChat writes: a minus at most, digits without leading zeros, exactly two decimals
WECHAT_AMOUNT = re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]{2}")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789.-+ ,e１٣", max_size=12))
def test_malformed_amounts_are_refused(text: str) -> None:
    if WECHAT_AMOUNT.fullmatch(text):
        assert yuan_to_fen(text) == round(Decimal(text) * 100)
    else:
        with pytest.raises(BillFormatError, match="not an amount"):
            yuan_to_fen(text)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("12.34", 1234), ("0.06", 6), ("-0.06", -6), ("100000.00", 10_000_000), ("0.00", 0)],
)
def test_wechat_amounts(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    "text",
    ["12.3", "12.345", "012.34", "+1.00", "1", "1.", ".50", "1e3", " 1.00", "1.00 ", "1,000.00",
     "１.００", "٣.00", "NaN", "", "-", "--1.00", "0x10"],
)  # fmt: skip
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(BillFormatError):
        yuan_to_fen(text)


def test_a_bill_is_read_strictly() -> None:
    header = (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
        "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
        "费率备注"
    )
    row = ("`2026-11-02 12:00:00,`wx1,`m1,`0,`,`4200001,`LS0001,`o1,`JSAPI,`SUCCESS,`OTHERS,"
           "`CNY,`12.34,`0.00,`0,`0,`0.00,`0.00,`,`,`邻善捐赠-a,b,`,`0.07,`0.60%,`12.34,`0.00,`")  # fmt: skip
    summary = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
    total = "`1,`12.34,`0.00,`0.00,`0.07,`12.34,`0.00"
    bill = parse_bill("\r\n".join([header, row, summary, total]) + "\r\n")
    # a comma in the goods' name shifts nothing that is read
    assert [(r.out_trade_no, r.order_fen, r.fee_fen, r.traded_at) for r in bill.rows] == [
        ("LS0001", 1234, 7, datetime(2026, 11, 2, 12, tzinfo=BEIJING))
    ]
    with pytest.raises(BillFormatError, match="CRLF"):
        parse_bill("\n".join([header, row, summary, total]))
    with pytest.raises(BillFormatError, match="backquote"):
        parse_bill("\r\n".join([header, row.replace("`12.34", "12.34", 1), summary, total]))
    with pytest.raises(BillFormatError, match="订单金额"):
        parse_bill("\r\n".join([header, row.replace("`12.34,`0.00,`", "`12.3,`0.00,`"),
                                summary, total]))  # fmt: skip
    with pytest.raises(BillFormatError, match="header"):
        parse_bill("\r\n".join([header.replace("手续费", "费用"), row, summary, total]))


# ---------------------------------------------------------------- end to end, on the sandbox


@pytest.fixture(scope="module")
def team(app) -> Actors:
    return spending_team(app, "RC")


def fresh_tokens(client, team: Actors) -> str:
    """Log the actors used here in again at the clock's time (tokens age by the app's
    clock); the donor's new token."""
    for actor in ("resident", "secretary", "supervisor", "foundation_admin", "platform_admin"):
        team.tokens[actor] = login(client, f"matrix_{actor}")["token"]
    return login(client, "reconcile_donor")["token"]


@pytest.fixture
def sandbox_day(wechat_sandbox, clock: Clock) -> Iterator[Any]:
    """Stand the app's and the sandbox's clocks at noon of a day; the sandbox's clock is put
    back afterwards."""
    url = f"{wechat_sandbox.url}sandbox/clock"
    before = requests.get(url, timeout=5).json()["offset_seconds"]

    def at(day: date, hour: int = 12) -> None:
        instant = datetime.combine(day, time(hour), tzinfo=BEIJING)
        clock.set(instant)
        answer = requests.post(url, json={"set": instant.isoformat()}, timeout=5)
        assert answer.status_code == 200, answer.text

    yield at
    now = requests.get(url, timeout=5).json()["offset_seconds"]
    requests.post(url, json={"advance_seconds": before - now}, timeout=5)


def order(client, token: str, amount_fen: int, need_id: int) -> dict:
    response = client.post("/api/v1/donations", json={"amount_fen": amount_fen, "need_id": need_id},
                           headers=auth(token))  # fmt: skip
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def paid(client, sandbox_url: str, token: str, amount_fen: int, need_id: int) -> dict:
    """A donation ordered through the API and paid at the sandbox; what became of its
    notification is returned with it."""
    made = order(client, token, amount_fen, need_id)
    sandbox_pay(sandbox_url, made["out_trade_no"])
    made["deliveries"] = wait_deliveries(sandbox_url, made["out_trade_no"])
    return made


def refund(client, team: Actors, donation_id: int, amount_fen: int) -> dict:
    response = client.post(
        f"/api/v1/donations/{donation_id}/refunds",
        json={"amount_fen": amount_fen, "reason": "捐赠人申请退款"},
        headers=auth(team.tokens["foundation_admin"]),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fee(amount_fen: int) -> int:
    """The sandbox's 0.6% fee, rounded half up to the fen."""
    return int((Decimal(amount_fen) * Decimal("0.006")).quantize(Decimal(1), ROUND_HALF_UP))


def differences(app, day: date) -> set[tuple]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(ReconciliationDifference).where(ReconciliationDifference.day == day)
        ).all()
        return {(d.kind.value, d.out_trade_no, d.out_refund_no, d.wechat_fen, d.our_fen,
                 d.status.value) for d in rows}  # fmt: skip


def run_cli(app, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["reconcile", *args])


def donation_entries(app, donation_id: int, kind: str) -> list[list[tuple[str, int]]]:
    with app.app_context():
        entries = db.session.scalars(
            sa.select(JournalEntry)
            .where(JournalEntry.donation_id == donation_id, JournalEntry.kind == kind)
            .order_by(JournalEntry.id)
        ).all()
        return [sorted((line.account, line.amount_fen) for line in e.lines) for e in entries]


@both_pay_versions
def test_a_day_without_a_bill_is_clean(app, sandbox_day) -> None:
    sandbox_day(NO_BILL_DAY + timedelta(days=1), hour=11)
    result = run_cli(app, "--date", f"{NO_BILL_DAY}")
    assert result.exit_code == 0, result.output
    assert "微信支付无账单" in result.output
    with app.app_context():
        run = db.session.scalar(
            sa.select(ReconciliationRun).where(ReconciliationRun.day == NO_BILL_DAY)
        )
        assert (run.bill_found, run.payment_count, run.difference_count) == (False, 0, 0)
    today = run_cli(app, "--date", f"{NO_BILL_DAY + timedelta(days=1)}")
    assert today.exit_code == 1 and "day_not_over" in today.output
    assert run_cli(app, "--date", f"{AHEAD.year}-1-1").exit_code == 1


@both_pay_versions
def test_a_lost_notification_is_repaired_once_and_the_day_exported(
    app, make_app, client, team, wechat_sandbox, sandbox_day, tmp_path
) -> None:
    sandbox_day(REPAIR_DAY)
    donor = fresh_tokens(client, team)
    need_id = fresh_need(client, team)
    first = paid(client, wechat_sandbox.url, donor, 1234, need_id)
    second = paid(client, wechat_sandbox.url, donor, 5600, need_id)
    nowhere = make_app({"PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}"})
    lost = paid(nowhere.test_client(), wechat_sandbox.url, donor, 777, need_id)
    assert lost["deliveries"][0]["status"] == "gave_up"
    assert client.get(f"/api/v1/needs/{need_id}/progress").get_json()["raised_fen"] == 6834

    sandbox_day(REPAIR_DAY + timedelta(days=1), hour=11)
    result = run_cli(app, "--date", f"{REPAIR_DAY}")
    assert result.exit_code == 0, result.output
    assert "asking WeChat" in result.output and "[repaired] payment_missing_here" in result.output
    repaired = {("payment_missing_here", lost["out_trade_no"], "", 777, None, "repaired")}
    assert differences(app, REPAIR_DAY) == repaired
    with app.app_context():
        donation = db.session.get(Donation, lost["id"])
        assert donation.status == DonationStatus.PAID
        assert donation.paid_at.astimezone(BEIJING).date() == REPAIR_DAY
    assert donation_entries(app, lost["id"], "donation") == [
        [("clearing:wechat", -777), (f"need:{need_id}", 777)]
    ]
    progress = client.get(f"/api/v1/needs/{need_id}/progress").get_json()
    assert (progress["raised_fen"], progress["donation_count"]) == (7611, 3)

    # Again: nothing more is credited, the difference is not repeated.
    again = run_cli(app, "--date", f"{REPAIR_DAY}")
    assert again.exit_code == 0, again.output
    assert differences(app, REPAIR_DAY) == repaired
    assert len(donation_entries(app, lost["id"], "donation")) == 1
    assert client.get(f"/api/v1/needs/{need_id}/progress").get_json()["raised_fen"] == 7611
    amounts = (1234, 5600, 777)
    with app.app_context():
        run = db.session.scalars(
            sa.select(ReconciliationRun).where(ReconciliationRun.day == REPAIR_DAY)
            .order_by(ReconciliationRun.id.desc())
        ).first()  # fmt: skip
        fees = sum(fee(a) for a in amounts)
        assert (run.payment_count, run.payment_fen, run.refund_count, run.fee_fen, run.net_fen,
                run.our_payment_count, run.our_payment_fen, run.open_count) == (
            3, 7611, 0, fees, 7611 - fees, 3, 7611, 0)  # fmt: skip

    out = tmp_path / "bill.csv"
    exported = run_cli(app, "export", "--date", f"{REPAIR_DAY}", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["交易时间", "类型", "商户订单号", "微信订单号", "商户退款单号",
                       "微信退款单号", "状态", "金额（元）", "手续费（元）", "净额（元）",
                       "捐赠编号", "退款编号", "项目", "基金"]  # fmt: skip
    with app.app_context():
        fund_name = db.session.get(Donation, first["id"]).fund.name
    got = sorted((r[1], r[2], r[7], r[8], r[9], r[10], r[12], r[13]) for r in rows[1:])
    expected = sorted(
        ("支付", made["out_trade_no"], yuan(a, symbol="", grouping=False),
         yuan(fee(a), symbol="", grouping=False), yuan(a - fee(a), symbol="", grouping=False),
         str(made["id"]), "楼道扶手加装", fund_name)
        for made, a in ((first, 1234), (second, 5600), (lost, 777))
    )  # fmt: skip
    assert got == expected
    assert ("12.34", "0.07", "12.27") in {(r[7], r[8], r[9]) for r in rows[1:]}


def edit_bill(text: str, edits: dict[str, dict[str, Any]]) -> str:
    """The bill with the lines naming a key changed: `set` values by column index, `add`
    copies of the line with values set, `drop` the line itself."""
    out = []
    for line in text.split("\r\n"):
        key = next((k for k in edits if f",`{k}," in line), None)
        change = edits.get(key, {}) if key is not None else {}
        values = line.split(",")
        for index, value in change.get("set", {}).items():
            values[index] = "`" + value
        if not change.get("drop"):
            out.append(",".join(values))
        for extra in change.get("add", []):
            added = line.split(",")
            for index, value in extra.items():
                added[index] = "`" + value
            out.append(",".join(added))
    return "\r\n".join(out)


def test_injected_differences_are_reported_exactly_and_resolved_with_a_note(
    app, client, team, wechat_sandbox, sandbox_day
) -> None:
    sandbox_day(INJECTED_DAY)
    donor = fresh_tokens(client, team)
    need_id = fresh_need(client, team)
    a = paid(client, wechat_sandbox.url, donor, 1000, need_id)
    b = paid(client, wechat_sandbox.url, donor, 2000, need_id)
    c = paid(client, wechat_sandbox.url, donor, 3000, need_id)
    r = refund(client, team, a["id"], 400)
    wait_deliveries(wechat_sandbox.url, a["out_trade_no"])
    # Paid here by a notification WeChat never sent: not in WeChat's bill.
    e = order(client, donor, 900, need_id)
    with app.app_context():
        forged = notification(e["out_trade_no"], 900, time_end=f"{INJECTED_DAY:%Y%m%d}140000")
        assert apply_payment(parse_notification(to_xml(forged), app.config["SETTINGS"])).applied
        db.session.commit()
        assert db.session.get(Refund, r["id"]).status == RefundStatus.SUCCEEDED

    sandbox_day(INJECTED_DAY + timedelta(days=1), hour=11)
    first = run_cli(app, "--date", f"{INJECTED_DAY}")
    assert first.exit_code == 1, first.output
    missing = ("payment_missing_at_wechat", e["out_trade_no"], "", None, 900, "open")
    assert differences(app, INJECTED_DAY) == {missing}
    assert run_cli(app, "--date", f"{INJECTED_DAY}").exit_code == 1
    assert differences(app, INJECTED_DAY) == {missing}  # not repeated

    with app.app_context():
        text = download_bill(INJECTED_DAY)
        assert text is not None
        out_refund_no = db.session.get(Refund, r["id"]).out_refund_no
        fake = {5: "4200000000000000000000000099", 6: "LSFAKE000000000000000001",
                12: "9.99", -5: "0.06", -3: "9.99"}  # fmt: skip
        edited = edit_bill(text, {
            b["out_trade_no"]: {"drop": True, "add": [fake]},  # a missing row, an extra row
            c["out_trade_no"]: {"set": {-3: "30.01"}},  # a wrong amount
            out_refund_no: {"set": {-2: "4.50"}},  # a wrong refund amount
        })  # fmt: skip
        reconciled = reconcile(INJECTED_DAY, edited)
        db.session.commit()
        assert reconciled.event_ids == []
    assert differences(app, INJECTED_DAY) == {
        missing,
        ("payment_missing_at_wechat", b["out_trade_no"], "", None, 2000, "open"),
        ("payment_amount", c["out_trade_no"], "", 3001, 3000, "open"),
        ("payment_missing_here", "LSFAKE000000000000000001", "", 999, None, "open"),
        ("refund_amount", a["out_trade_no"], out_refund_no, 450, 400, "open"),
        ("summary", "", "", 6000, 4999, "open"),
    }

    with app.app_context():
        e_difference = db.session.scalar(
            sa.select(ReconciliationDifference.id).where(
                ReconciliationDifference.out_trade_no == e["out_trade_no"]
            )
        )
    admin = team.user_ids["foundation_admin"]
    resolved = run_cli(app, "resolve", str(e_difference), "--note", "核实为测试订单，已冲正",
                       "--user", str(admin))  # fmt: skip
    assert resolved.exit_code == 0, resolved.output
    twice = run_cli(app, "resolve", str(e_difference), "--note", "再次处理")
    assert twice.exit_code == 1 and "difference_not_open" in twice.output
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.action == "reconciliation.resolve", AuditEvent.object_id == e_difference
            )
        )
        assert (event.actor_id, event.reason, event.object_type) == (
            admin, "核实为测试订单，已冲正", "reconciliation_difference")  # fmt: skip
        assert event.changes["status"] == ["open", "resolved"]

    # The real bill again: the injected differences are gone, the resolved one stays so.
    clean = run_cli(app, "--date", f"{INJECTED_DAY}")
    assert clean.exit_code == 0, clean.output
    statuses = {(d[0], d[1], d[5]) for d in differences(app, INJECTED_DAY)}
    assert statuses == {
        ("payment_missing_at_wechat", e["out_trade_no"], "resolved"),
        ("payment_missing_at_wechat", b["out_trade_no"], "cleared"),
        ("payment_amount", c["out_trade_no"], "cleared"),
        ("payment_missing_here", "LSFAKE000000000000000001", "cleared"),
        ("refund_amount", a["out_trade_no"], "cleared"),
        ("summary", "", "cleared"),
    }
    with app.app_context():
        lines = db.session.scalars(
            sa.select(BillLine).where(BillLine.day == INJECTED_DAY).order_by(BillLine.line_no)
        ).all()
        assert sorted((line.kind.value, line.amount_fen, line.fee_fen) for line in lines) == sorted(
            [("payment", 1000, 6), ("payment", 2000, 12), ("payment", 3000, 18),
             ("refund", 400, -2)])  # fmt: skip
        assert {line.our_refund_id for line in lines} == {None, r["id"]}


@both_pay_versions
def test_a_refund_settled_at_wechat_only_is_repaired(
    app, make_app, client, team, wechat_sandbox, sandbox_day
) -> None:
    sandbox_day(REFUND_DAY)
    donor = fresh_tokens(client, team)
    need_id = fresh_need(client, team)
    made = paid(client, wechat_sandbox.url, donor, 2500, need_id)
    nowhere = make_app({"PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}"})
    asked = nowhere.test_client().post(
        f"/api/v1/donations/{made['id']}/refunds",
        json={"amount_fen": 1000, "reason": "捐赠人申请退款"},
        headers=auth(team.tokens["foundation_admin"]),
    )
    assert asked.status_code == 201, asked.get_json()
    wait_deliveries(wechat_sandbox.url, made["out_trade_no"])  # its notice never arrives
    with app.app_context():
        ours = db.session.get(Refund, asked.get_json()["id"])
        assert ours.status == RefundStatus.PROCESSING
        out_refund_no = ours.out_refund_no

    sandbox_day(REFUND_DAY + timedelta(days=1), hour=11)
    result = run_cli(app, "--date", f"{REFUND_DAY}")
    assert result.exit_code == 0, result.output
    assert differences(app, REFUND_DAY) == {
        ("refund_not_settled_here", made["out_trade_no"], out_refund_no, 1000, 1000, "repaired")
    }
    with app.app_context():
        assert db.session.get(Refund, asked.get_json()["id"]).status == RefundStatus.SUCCEEDED
    assert donation_entries(app, made["id"], "refund") == [
        [("clearing:wechat", 1000), (f"need:{need_id}", -1000)]
    ]
    assert client.get(f"/api/v1/needs/{need_id}/progress").get_json()["raised_fen"] == 1500
    assert run_cli(app, "--date", f"{REFUND_DAY}").exit_code == 0
    assert len(donation_entries(app, made["id"], "refund")) == 1


def test_the_api_is_the_finance_officers(app, client, team, sandbox_day) -> None:
    sandbox_day(API_DAY)
    donor = fresh_tokens(client, team)
    need_id = fresh_need(client, team)
    made = order(client, donor, 1500, need_id)
    with app.app_context():
        forged = notification(made["out_trade_no"], 1500, time_end=f"{API_DAY:%Y%m%d}150000")
        assert apply_payment(parse_notification(to_xml(forged), app.config["SETTINGS"])).applied
        reconcile(API_DAY, None)  # as when WeChat has no bill that day
        db.session.commit()
    sandbox_day(API_DAY + timedelta(days=1))
    url = f"/api/v1/reconciliation/{API_DAY}"
    assert client.get(url).status_code == 401
    for who in ("resident", "secretary", "supervisor"):
        assert client.get(url, headers=team.headers(who)).status_code == 403, who
    for who in ("foundation_admin", "platform_admin"):
        assert client.get(url, headers=team.headers(who)).status_code == 200, who
    admin = team.headers("foundation_admin")
    report = client.get(url, headers=admin).get_json()
    assert report["day"] == f"{API_DAY}"
    assert (report["run"]["bill_found"], report["run"]["our_payment_fen"],
            report["run"]["open_count"]) == (False, 1500, 1)  # fmt: skip
    [difference] = report["differences"]
    assert (difference["kind"], difference["out_trade_no"], difference["wechat_fen"],
            difference["our_fen"], difference["status"]) == (
        "payment_missing_at_wechat", made["out_trade_no"], None, 1500, "open")  # fmt: skip
    assert (
        client.get(f"/api/v1/reconciliation/{AHEAD - timedelta(days=1)}", headers=admin).status_code
        == 404
    )
    future = client.get(f"/api/v1/reconciliation/{API_DAY + timedelta(days=2)}", headers=admin)
    assert (future.status_code, future.get_json()["error"]) == (422, "day_in_future")
    assert client.get(f"/api/v1/reconciliation/{AHEAD.year}-1-1", headers=admin).status_code == 422

    exported = client.get(f"{url}/export.csv", headers=admin)
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert exported.data.startswith("\ufeff交易时间,类型".encode())
    assert client.get(f"{url}/export.csv", headers=team.headers("resident")).status_code == 403

    resolve = f"/api/v1/reconciliation/differences/{difference['id']}/resolve"
    body = {"note": "已核对：该笔为测试数据"}
    assert client.post(resolve, json=body).status_code == 401
    assert client.post(resolve, json=body, headers=team.headers("resident")).status_code == 403
    done = client.post(resolve, json=body, headers=admin)
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["status"], done.get_json()["note"],
            done.get_json()["resolved_by_id"]) == (
        "resolved", body["note"], team.user_ids["foundation_admin"])  # fmt: skip
    again = client.post(resolve, json=body, headers=admin)
    assert (again.status_code, again.get_json()["error"]) == (409, "difference_not_open")
    unknown = client.post("/api/v1/reconciliation/differences/999999/resolve", json=body,
                          headers=admin)  # fmt: skip
    assert unknown.status_code == 404
    assert client.get(url, headers=admin).get_json()["differences"][0]["status"] == "resolved"
    with app.app_context():
        assert db.session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.action == "reconciliation.resolve",
                                             AuditEvent.object_id == difference["id"])
        ) == 1  # fmt: skip


def test_the_worker_reconciles_yesterday_once_after_ten(app, sandbox_day) -> None:
    sandbox_day(JOB_DAY + timedelta(days=1), hour=9)
    with app.app_context():
        assert tasks.reconcile_yesterday() is None  # the bill is not ready before 10:00
    sandbox_day(JOB_DAY + timedelta(days=1), hour=10)
    with app.app_context():
        assert tasks.reconcile_yesterday() == 0
        assert tasks.reconcile_yesterday() is None  # once
        runs = db.session.scalars(
            sa.select(ReconciliationRun).where(ReconciliationRun.day == JOB_DAY)
        ).all()
        assert [(run.bill_found, run.difference_count) for run in runs] == [(False, 0)]
    assert tasks.SCHEDULE[tasks.reconcile_yesterday] == 600
