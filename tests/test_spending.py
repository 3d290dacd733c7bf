"""Expenses: submission with evidence, the fund's approval policy, disbursement into the
journal, the audit log, concurrency against a small balance, and who may do what."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.funds.models import Fund
from backend.ledger.models import JournalEntry
from backend.ledger.services import balance, foundation_bank_account, need_account
from backend.spending.models import Expense
from tests.permissions import ACTORS, OUTSIDERS, Actors, check_matrix
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
from tests.support import assert_error_shape

pytestmark = pytest.mark.usefixtures("demo", "live_server")


@pytest.fixture(scope="module")
def team(app) -> Actors:
    return spending_team(app, "S1")


@pytest.fixture(scope="module")
def donor(app) -> str:
    from tests.permissions import login

    return login(app.test_client(), "spend_donor")["token"]


def set_threshold(app, fund_id: int, fen: int) -> None:
    with app.app_context():
        db.session.get(Fund, fund_id).committee_threshold_fen = fen
        db.session.commit()


def funded_need(app, client, team: Actors, donor: str, amounts: list[int]) -> int:
    need_id = fresh_need(client, team)
    for amount in amounts:
        give(app, client, donor, amount, need_id=need_id)
    return need_id


def relogin(app, team: Actors, *names: str) -> None:
    """Fresh tokens (the clock moved past the old ones' lifetime)."""
    from tests.permissions import login

    for name in names:
        who = f"matrix_{name}" if name in ACTORS else f"spend_S1_{name}"
        team.tokens[name] = login(app.test_client(), who)["token"]


def audit_actions(app, expense_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent.action)
                .where(AuditEvent.object_type == "expense", AuditEvent.object_id == expense_id)
                .order_by(AuditEvent.id)
            )
        )


def test_an_expense_goes_from_submission_to_the_journal(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = funded_need(app, client, team, donor, [30_000, 20_000])
    submitted = submit(client, team, 35_000, need_id=need_id)
    assert submitted.status_code == 201, submitted.get_json()
    expense = submitted.get_json()
    assert expense["status"] == "submitted"
    assert expense["required_approvals"] == 1 and not expense["needs_committee"]
    assert expense["available_fen"] == 50_000
    assert expense["payee_name"] == "张三丰"  # the back office sees the full name
    assert expense["attachments"][0]["stage"] == "evidence"

    approved = decide(client, team, expense["id"], "committee")
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "approved"
    assert approved.get_json()["approvals"][0]["role"] == "committee"

    paid = disburse(client, team, expense["id"])
    assert paid.status_code == 200, paid.get_json()
    body = paid.get_json()
    assert body["status"] == "disbursed" and body["voucher_no"] == "PZ-2026-001"
    assert [a["stage"] for a in body["attachments"]] == ["evidence", "disbursement"]
    with app.app_context():
        entry = db.session.get(JournalEntry, body["journal_entry_id"])
        assert entry.kind == "disbursement"
        lines = {line.account: line.amount_fen for line in entry.lines}
        fund = db.session.get(Fund, team.fund_id)
        assert lines == {
            need_account(need_id): -35_000,
            foundation_bank_account(fund.foundation_id): 35_000,
        }
        assert balance([need_account(need_id)]) == 15_000
    assert audit_actions(app, expense["id"]) == [
        "expense.submit",
        "expense.approve",
        "expense.disburse",
    ]


def test_the_submitter_never_decides_their_own(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = funded_need(app, client, team, donor, [10_000])
    expense = submit(client, team, 5_000, who="secretary", need_id=need_id).get_json()
    for decision in ("approve", "reject"):
        response = decide(client, team, expense["id"], "secretary", decision, "自己审批")
        assert_error_shape(response.get_json(), 403, "own_expense")
    assert decide(client, team, expense["id"], "secretary2").get_json()["status"] == "approved"


def test_a_committee_member_who_submitted_cannot_approve_either(app, client, team, donor) -> None:
    """Holding two roles changes nothing: the submitter is the submitter."""
    from backend.accounts.models import Role
    from backend.accounts.services import find_user, grant_role

    with app.app_context():
        grant_role(find_user(str(team.user_ids["committee2"])), Role.SECRETARY, team.fund_id)
        db.session.commit()
    need_id = funded_need(app, client, team, donor, [10_000])
    expense = submit(client, team, 5_000, who="committee2", need_id=need_id).get_json()
    response = decide(client, team, expense["id"], "committee2")
    assert_error_shape(response.get_json(), 403, "own_expense")


def test_at_the_threshold_a_committee_majority_decides(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 50_000)
    need_id = funded_need(app, client, team, donor, [80_000, 20_000])
    expense = submit(client, team, 50_000, need_id=need_id).get_json()
    assert expense["needs_committee"] is True
    committee = expense["required_approvals"] * 2 - 1  # majority of an odd committee
    assert committee >= 5
    # A secretary's approval does not count at or above the threshold.
    response = decide(client, team, expense["id"], "secretary")
    assert_error_shape(response.get_json(), 403, "committee_decision_required")
    members = ["committee", "committee2", "committee3", "committee4", "committee5"]
    for count, member in enumerate(members[: expense["required_approvals"]], start=1):
        answer = decide(client, team, expense["id"], member).get_json()
        assert answer["approval_count"] == count
        done = count == expense["required_approvals"]
        assert answer["status"] == ("approved" if done else "submitted"), answer
    # Once approved, no more decisions.
    late = decide(client, team, expense["id"], members[-1])
    assert_error_shape(late.get_json(), 409, "expense_decided")
    # Below the threshold one approval is enough.
    small = submit(client, team, 49_999, need_id=need_id).get_json()
    assert small["required_approvals"] == 1
    assert decide(client, team, small["id"], "secretary").get_json()["status"] == "approved"


def test_a_rejection_needs_a_reason_and_ends_the_expense(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 50_000)
    need_id = funded_need(app, client, team, donor, [80_000])
    expense = submit(client, team, 60_000, need_id=need_id).get_json()
    assert decide(client, team, expense["id"], "committee").get_json()["approval_count"] == 1
    no_reason = decide(client, team, expense["id"], "committee2", "reject", "  ")
    assert_error_shape(no_reason.get_json(), 422, "reason_required")
    assert "comment" in no_reason.get_json()["errors"]
    rejected = decide(
        client, team, expense["id"], "committee2", "reject", "发票抬头不符，请重新开具"
    )
    assert rejected.status_code == 200
    body = rejected.get_json()
    assert body["status"] == "rejected"
    assert body["rejection_reason"] == "发票抬头不符，请重新开具"
    after = decide(client, team, expense["id"], "committee3")
    assert_error_shape(after.get_json(), 409, "expense_decided")
    paid = disburse(client, team, expense["id"])
    assert_error_shape(paid.get_json(), 409, "expense_not_approved")
    with app.app_context():
        reasons = db.session.scalars(
            sa.select(AuditEvent.reason).where(
                AuditEvent.object_type == "expense",
                AuditEvent.object_id == expense["id"],
                AuditEvent.action == "expense.reject",
            )
        ).all()
    assert reasons == ["发票抬头不符，请重新开具"]


def test_nothing_changes_once_a_decision_is_recorded(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 50_000)
    need_id = funded_need(app, client, team, donor, [80_000])
    expense = submit(client, team, 60_000, need_id=need_id).get_json()
    cancel = {"reason": "重复提交，撤回"}
    decide(client, team, expense["id"], "committee")
    refused = client.post(f"/api/v1/expenses/{expense['id']}/cancel", json=cancel,
                          headers=auth(team.tokens["secretary2"]))  # fmt: skip
    assert_error_shape(refused.get_json(), 409, "expense_not_cancellable")
    again = decide(client, team, expense["id"], "committee")
    assert_error_shape(again.get_json(), 409, "already_decided")
    # Before any decision the secretaries may withdraw it.
    other = submit(client, team, 1_000, need_id=need_id).get_json()
    withdrawn = client.post(f"/api/v1/expenses/{other['id']}/cancel", json=cancel,
                            headers=auth(team.tokens["secretary"]))  # fmt: skip
    assert withdrawn.get_json()["status"] == "cancelled"


def test_approval_and_disbursement_check_the_available_balance(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = funded_need(app, client, team, donor, [10_000])
    first = submit(client, team, 7_000, need_id=need_id).get_json()
    second = submit(client, team, 7_000, need_id=need_id).get_json()
    assert decide(client, team, first["id"], "committee").get_json()["status"] == "approved"
    # The first approved expense holds its 70 yuan back: 30 are left.
    refused = decide(client, team, second["id"], "committee")
    body = refused.get_json()
    assert_error_shape(body, 409, "insufficient_balance")
    assert "¥30.00" in body["message"] and "¥70.00" in body["message"]
    assert client.get(f"/api/v1/expenses/{second['id']}",
                      headers=auth(team.tokens["committee"])).get_json()["status"] == "submitted"  # fmt: skip
    # Cancelling the approved one frees its money.
    cancelled = client.post(f"/api/v1/expenses/{first['id']}/cancel",
                            json={"reason": "供应商无法供货"},
                            headers=auth(team.tokens["foundation_admin"]))  # fmt: skip
    assert cancelled.get_json()["status"] == "cancelled"
    assert decide(client, team, second["id"], "committee").get_json()["status"] == "approved"
    assert disburse(client, team, second["id"]).get_json()["status"] == "disbursed"


def test_the_pool_is_spent_apart_from_the_needs(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    from backend.ledger.services import fund_pool_account

    with app.app_context():
        pool_before = balance([fund_pool_account(team.fund_id)])
    give(app, client, donor, 12_345, fund_id=team.fund_id)
    expense = submit(client, team, pool_before + 12_345).get_json()
    assert expense["need"] is None
    assert expense["available_fen"] == pool_before + 12_345
    assert decide(client, team, expense["id"], "committee").get_json()["status"] == "approved"
    assert disburse(client, team, expense["id"]).get_json()["status"] == "disbursed"
    with app.app_context():
        assert balance([fund_pool_account(team.fund_id)]) == 0


def race(calls: list[Any]) -> list[Any]:
    """Run the calls at the same moment, each in its own thread; their answers in order."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_racing_approvals_never_spend_the_same_money_twice(app, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    client = app.test_client()
    need_id = funded_need(app, client, team, donor, [10_000])
    expenses = [submit(client, team, 4_000, need_id=need_id).get_json()["id"] for _ in range(4)]
    deciders = ["committee", "committee2", "committee3", "committee4"]
    answers = race([
        (lambda e=e, who=who: decide(app.test_client(), team, e, who))
        for e, who in zip(expenses, deciders, strict=True)
    ])  # fmt: skip
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 409, 409], [a.get_json() for a in answers]
    with app.app_context():
        approved = db.session.scalar(
            sa.select(sa.func.sum(Expense.amount_fen)).where(
                Expense.need_id == need_id, Expense.status == "approved"
            )
        )
    assert approved == 8_000


def test_racing_disbursements_pay_once(app, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    client = app.test_client()
    need_id = funded_need(app, client, team, donor, [10_000])
    expense = submit(client, team, 9_000, need_id=need_id).get_json()
    decide(client, team, expense["id"], "committee")
    receipts = [evidence(client, team.tokens["foundation_admin"])[0] for _ in range(3)]

    def pay(upload_id: int) -> Any:
        return app.test_client().post(
            f"/api/v1/expenses/{expense['id']}/disburse",
            json={"voucher_no": f"PZ-{upload_id}", "attachment_ids": [upload_id]},
            headers=auth(team.tokens["foundation_admin"]),
        )

    answers = race([lambda u=u: pay(u) for u in receipts])
    assert sorted(a.status_code for a in answers) == [200, 409, 409]
    with app.app_context():
        entries = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.memo.like(f"拨付支出#{expense['id']}：%"))
        )
        assert entries == 1
        assert balance([need_account(need_id)]) == 1_000


def test_an_overdue_disclosure_stops_new_expenses_until_posted(app, client, team, donor,
                                                               clock) -> None:  # fmt: skip
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = funded_need(app, client, team, donor, [10_000])
    clock.advance(days=200)  # published over six months ago, never reported on
    # Tokens of the moved clock, for this test alone (the clock goes back after it).
    team = dataclasses.replace(team, tokens=dict(team.tokens))
    relogin(app, team, "secretary", "secretary2")
    refused = submit(client, team, 1_000, need_id=need_id)
    body = refused.get_json()
    assert_error_shape(body, 409, "disclosure_overdue")
    assert "逾期" in body["message"]
    posted = client.post(
        f"/api/v1/needs/{need_id}/updates",
        json={"kind": "disclosure", "text": "第一季度信息公开：扶手材料已采购，安装进行中。"},
        headers=auth(team.tokens["secretary"]),
    )
    assert posted.status_code == 201, posted.get_json()
    assert submit(client, team, 1_000, need_id=need_id).status_code == 201


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"amount_fen": 0}, "validation_failed", "amount_fen"),
        ({"amount_fen": 1.5}, "validation_failed", "amount_fen"),
        ({"payee_type": "robot"}, "validation_failed", "payee_type"),
        ({"purpose": "a\nb\nc\nd"}, "validation_failed", "purpose"),
        ({"attachment_ids": []}, "validation_failed", "attachment_ids"),
        ({"attachment_ids": [2_000_000_000]}, "invalid_attachment_ids", "attachment_ids"),
        ({"need_id": 2_000_000_000}, "invalid_need", "need_id"),
    ],
)
def test_bad_expenses_are_refused_and_change_nothing(app, client, team, change, error,
                                                     field) -> None:  # fmt: skip
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Expense))
    fields = {k: v for k, v in change.items() if k != "amount_fen"}
    response = submit(client, team, change.get("amount_fen", 1_000), **fields)
    body = response.get_json()
    assert response.status_code in (400, 422), body
    assert body["error"] == error and field in body["errors"], body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Expense)) == before


def test_someone_elses_upload_is_no_evidence(app, client, team) -> None:
    theirs = evidence(client, team.tokens["committee"])
    response = submit(client, team, 1_000, attachment_ids=theirs)
    assert_error_shape(response.get_json(), 422, "invalid_attachment_ids")


def test_a_submission_replays_under_its_idempotency_key(app, client, team) -> None:
    headers = {**auth(team.tokens["secretary"]), "Idempotency-Key": "expense-key-1"}
    payload = {"amount_fen": 1_000, "payee_name": "社区五金店", "payee_type": "organization",
               "purpose": "维修工具", "attachment_ids": evidence(client, team.tokens["secretary"])}  # fmt: skip
    url = f"/api/v1/funds/{team.fund_id}/expenses"
    first = client.post(url, json=payload, headers=headers)
    second = client.post(url, json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    other = client.post(url, json={**payload, "amount_fen": 2_000}, headers=headers)
    assert other.status_code == 409


def test_redacted_copy_is_what_the_public_will_see(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = funded_need(app, client, team, donor, [10_000])
    expense = submit(client, team, 2_000, need_id=need_id).get_json()
    attachment = expense["attachments"][0]
    (copy,) = evidence(client, team.tokens["secretary2"])
    redacted = client.post(
        f"/api/v1/expenses/{expense['id']}/redactions",
        json={"attachment_id": attachment["id"], "upload_id": copy},
        headers=auth(team.tokens["secretary2"]),
    )
    assert redacted.status_code == 200, redacted.get_json()
    shown = redacted.get_json()["attachments"][0]
    assert shown["redacted"]["id"] == copy and shown["upload"]["id"] == attachment["upload"]["id"]
    decide(client, team, expense["id"], "committee")
    disburse(client, team, expense["id"])
    from backend.uploads.models import Upload

    with app.app_context():
        assert db.session.get(Upload, copy).public is True
        assert db.session.get(Upload, attachment["upload"]["id"]).public is False
    late = client.post(
        f"/api/v1/expenses/{expense['id']}/redactions",
        json={"attachment_id": attachment["id"], "upload_id": copy},
        headers=auth(team.tokens["secretary2"]),
    )
    assert_error_shape(late.get_json(), 409, "expense_closed")


def test_an_approver_sees_what_waits_for_them(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = funded_need(app, client, team, donor, [10_000])
    expense = submit(client, team, 1_000, need_id=need_id).get_json()

    def waiting(who: str) -> list[int]:
        answer = client.get("/api/v1/me/pending-expenses?limit=100", headers=auth(team.tokens[who]))
        assert answer.status_code == 200
        return [e["id"] for e in answer.get_json()["items"]]

    assert expense["id"] in waiting("committee3")
    assert expense["id"] not in waiting("secretary2")  # their own
    assert expense["id"] not in waiting("supervisor")  # supervisors do not decide
    assert expense["id"] not in waiting("other_secretary")
    listed = client.get(
        f"/api/v1/expenses/{expense['id']}", headers=auth(team.tokens["committee3"])
    )
    assert listed.get_json()["actions"] == ["approve", "reject"]
    mine = client.get(f"/api/v1/expenses/{expense['id']}", headers=auth(team.tokens["secretary2"]))
    assert mine.get_json()["actions"] == ["cancel", "redact"]
    decide(client, team, expense["id"], "committee3")
    assert expense["id"] not in waiting("committee3")


# The permission matrix over every spending endpoint.

READERS = {"secretary", "committee", "supervisor", "foundation_admin", "platform_admin"}


def test_matrix_submit_and_list(app, client, team) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    upload_of = {a: evidence(client, t)[0] for a, t in team.tokens.items() if t and a in ACTORS}

    for actor in ACTORS:
        body = {"amount_fen": 100, "payee_name": "社区五金店", "payee_type": "organization",
                "purpose": "维修工具", "attachment_ids": [upload_of.get(actor, 1)]}  # fmt: skip
        response = client.post(f"/api/v1/funds/{team.fund_id}/expenses", json=body,
                               headers=team.headers(actor))  # fmt: skip
        expected = 201 if actor == "secretary" else 401 if actor == "anonymous" else 403
        assert response.status_code == expected, (actor, response.get_json())
    check_matrix(client, team, "GET", f"/api/v1/funds/{team.fund_id}/expenses", READERS)


def test_matrix_reading_deciding_and_paying(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = funded_need(app, client, team, donor, [100_000])
    expense = submit(client, team, 100, need_id=need_id).get_json()
    url = f"/api/v1/expenses/{expense['id']}"
    for actor in ACTORS:
        response = client.get(url, headers=team.headers(actor))
        if actor in READERS:
            assert response.status_code == 200, actor
        elif actor == "anonymous":
            assert response.status_code == 401
        else:
            assert actor in OUTSIDERS and response.status_code == 404, actor
            assert response.get_json()["error"] == "expense_not_found"

    deciders = {"secretary", "committee"}
    for decision in ("approve", "reject"):
        for actor in ACTORS:
            fresh = submit(client, team, 100, need_id=need_id).get_json()
            response = decide(client, team, fresh["id"], actor, decision, "理由充分")
            if actor in deciders:
                assert response.status_code == 200, (actor, response.get_json())
            elif actor == "anonymous":
                assert response.status_code == 401
            elif actor in OUTSIDERS:
                assert response.status_code == 404, (actor, response.get_json())
            else:
                assert response.status_code == 403, (actor, response.get_json())

    for actor in ACTORS:
        fresh = submit(client, team, 100, need_id=need_id).get_json()
        decide(client, team, fresh["id"], "committee")
        token = team.tokens.get(actor)
        receipt = evidence(client, token)[0] if token else 1
        response = client.post(f"/api/v1/expenses/{fresh['id']}/disburse",
                               json={"voucher_no": "PZ-1", "attachment_ids": [receipt]},
                               headers=team.headers(actor))  # fmt: skip
        if actor == "foundation_admin":
            assert response.status_code == 200, response.get_json()
        elif actor == "anonymous":
            assert response.status_code == 401
        elif actor in OUTSIDERS:
            assert response.status_code == 404
        else:
            assert response.status_code == 403, (actor, response.get_json())


def test_the_expense_list_pages_and_filters(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = funded_need(app, client, team, donor, [10_000])
    made = [submit(client, team, 100 + i, need_id=need_id).get_json()["id"] for i in range(5)]
    headers = auth(team.tokens["supervisor"])
    seen: list[int] = []
    url = f"/api/v1/funds/{team.fund_id}/expenses?limit=2&need_id={need_id}&status=submitted"
    while url:
        page = client.get(url, headers=headers).get_json()
        assert "items" in page, page
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        url = cursor and (
            f"/api/v1/funds/{team.fund_id}/expenses?limit=2&need_id={need_id}&status=submitted"
            f"&cursor={cursor}"
        )
    assert seen == sorted(made, reverse=True)


def test_region_and_fund_figures_count_what_was_paid(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    with app.app_context():
        region_id = db.session.get(Fund, team.fund_id).region_id

    def figures() -> tuple[int, int, int]:
        stats = client.get(f"/api/v1/stats?region_id={region_id}").get_json()
        fund = client.get(f"/api/v1/funds/{team.fund_id}").get_json()
        return stats["spent_fen"], fund["spent_fen"], fund["balance_fen"]

    need_id = funded_need(app, client, team, donor, [5_000])
    spent, fund_spent, fund_balance = figures()
    expense = submit(client, team, 3_210, need_id=need_id).get_json()
    decide(client, team, expense["id"], "committee")
    assert figures() == (spent, fund_spent, fund_balance)  # approved is not yet paid
    disburse(client, team, expense["id"])
    assert figures() == (spent + 3_210, fund_spent + 3_210, fund_balance - 3_210)


def test_matrix_cancelling_and_redacting(app, client, team, donor) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = funded_need(app, client, team, donor, [100_000])

    def expect(actor: str, response: Any, allowed: set[str]) -> None:
        if actor in allowed:
            assert response.status_code == 200, (actor, response.get_json())
        elif actor == "anonymous":
            assert response.status_code == 401
        elif actor in OUTSIDERS:
            assert response.status_code == 404, (actor, response.get_json())
        else:
            assert response.status_code == 403, (actor, response.get_json())

    for actor in ACTORS:  # before any decision: the fund's secretaries withdraw it
        fresh = submit(client, team, 100, need_id=need_id).get_json()
        response = client.post(f"/api/v1/expenses/{fresh['id']}/cancel",
                               json={"reason": "重复提交，撤回"}, headers=team.headers(actor))  # fmt: skip
        expect(actor, response, {"secretary"})
    for actor in ACTORS:  # once approved: the foundation admin, who would have paid it
        fresh = submit(client, team, 100, need_id=need_id).get_json()
        decide(client, team, fresh["id"], "committee")
        response = client.post(f"/api/v1/expenses/{fresh['id']}/cancel",
                               json={"reason": "供应商无法供货"}, headers=team.headers(actor))  # fmt: skip
        expect(actor, response, {"foundation_admin"})
    for actor in ACTORS:  # a redacted copy: the secretaries and the foundation admin
        fresh = submit(client, team, 100, need_id=need_id).get_json()
        token = team.tokens.get(actor)
        copy = evidence(client, token)[0] if token else 1
        response = client.post(
            f"/api/v1/expenses/{fresh['id']}/redactions",
            json={"attachment_id": fresh["attachments"][0]["id"], "upload_id": copy},
            headers=team.headers(actor),
        )
        expect(actor, response, {"secretary", "foundation_admin"})
    for actor in ACTORS:  # everyone logged in has a to-do list (empty without a role)
        response = client.get("/api/v1/me/pending-expenses", headers=team.headers(actor))
        assert response.status_code == (401 if actor == "anonymous" else 200), actor
        if actor in OUTSIDERS | {"supervisor", "foundation_admin", "platform_admin"}:
            assert response.get_json()["items"] == [], actor
