"""The sealed journal, on the real PostgreSQL: the database refuses to change or remove
journal rows; the worker's jobs chain committed entries (paid through the notification
endpoint) while payments go on; `GET /api/v1/ledger/head` publishes the newest seal; and
`flask ledger verify` names the first entry altered, removed or inserted by someone who
turned the triggers off first."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from backend.common.time import utcnow
from backend.donations.services import apply_payment
from backend.extensions import db
from backend.funds.models import Foundation, Fund
from backend.jobs import tasks
from backend.ledger import sealing
from backend.ledger.models import JournalEntry, JournalSeal
from backend.needs.models import Need, NeedCategory, NeedStatus
from backend.payments.wechat_pay import parse_notification
from backend.regions.models import Region, RegionLevel
from tests.conftest import truncate_all
from tests.payments_support import notification, to_xml
from tests.permissions import login

NOTIFY = "/api/v1/payments/wechat/notify"
SUCCESS = "<return_code><![CDATA[SUCCESS]]></return_code>"


@pytest.fixture(scope="module")
def donor(app: Flask) -> str:
    return login(app.test_client(), "journal_donor")["token"]


@pytest.fixture(scope="module")
def need_id(app: Flask):
    """A need of a fund of its own, which no test here fills up; all removed afterwards."""
    with app.app_context():
        region = Region(level=RegionLevel.CITY, name="封印测试市", path="/seal/")
        foundation = Foundation(name="封印测试基金会", credit_code="SEAL".ljust(18, "0"),
                                mch_id="1900000109")  # fmt: skip
        fund = Fund(foundation=foundation, region=region, name="封印测试基金",
                    committee_threshold_fen=100_000)  # fmt: skip
        need = Need(fund=fund, region=region, category=NeedCategory.ELDERLY,
                    title="账本封印测试", story="账本封印测试用的项目。", goal_fen=10**11,
                    status=NeedStatus.FUNDRAISING, published_at=utcnow())  # fmt: skip
        db.session.add_all([region, foundation, fund, need])
        db.session.commit()
        yield need.id
        db.session.remove()
    truncate_all(app)


def empty_journal(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "TRUNCATE journal_seals, journal_lines, journal_entries, journal_account_totals CASCADE"
        )


@pytest.fixture(autouse=True)
def journal(database_url: str):
    """Each test starts from an empty journal (and leaves none of its tampering behind)."""
    empty_journal(database_url)
    yield
    empty_journal(database_url)


def order(client, token: str, need_id: int, amount_fen: int) -> str:
    response = client.post("/api/v1/donations", json={"need_id": need_id, "amount_fen": amount_fen},
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 201, response.get_json()
    return response.get_json()["out_trade_no"]


def pay(client, token: str, need_id: int, amount_fen: int = 1000) -> int:
    """Order and pay a donation through the notification endpoint; its journal entry's id."""
    out_trade_no = order(client, token, need_id, amount_fen)
    answer = client.post(NOTIFY, data=to_xml(notification(out_trade_no, amount_fen)))
    assert SUCCESS in answer.get_data(as_text=True)
    return entry_of(client.application, out_trade_no)


def entry_of(app: Flask, out_trade_no: str) -> int:
    with app.app_context():
        return db.session.execute(
            sa.text("""SELECT j.id FROM journal_entries j JOIN donations d ON d.id = j.donation_id
                       WHERE d.out_trade_no = :no"""),
            {"no": out_trade_no},
        ).scalar_one()  # fmt: skip


def seal_everything(app: Flask) -> int:
    with app.app_context():
        sealed = 0
        while batch := sealing.seal_pending():
            db.session.commit()
            sealed += batch
        db.session.remove()
        return sealed


def seals(app: Flask) -> list[tuple[int, int, str]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(JournalSeal.seq, JournalSeal.entry_id, JournalSeal.hash).order_by(
                JournalSeal.seq)
        ).all()  # fmt: skip
        db.session.remove()
        return [tuple(row) for row in rows]


def run(app: Flask, job):
    """Run one of the worker's jobs as the worker does (it commits at its end)."""
    with app.app_context():
        return job()


def verify_cli(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["ledger", "verify", *args])


# -- an independent reading of the documented canonical form (not the module's code) --------


def netstring(text: str) -> bytes:
    data = text.encode("utf-8")
    return str(len(data)).encode() + b":" + data + b","


def documented_hash(seq: int, prev: str, entry: tuple, lines: list[tuple]) -> str:
    entry_id, kind, donation_id, memo, created_at = entry
    when = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = ["linshan-journal-seal/1", str(seq), prev, str(entry_id), kind,
              "" if donation_id is None else str(donation_id), memo, when, str(len(lines))]  # fmt: skip
    for line in lines:
        fields += [str(line[0]), line[1], str(line[2])]
    return hashlib.sha256(b"".join(netstring(f) for f in fields)).hexdigest()


def recomputed_chain(database_url: str) -> list[tuple[int, int, str]]:
    """(seq, entry id, hash) of the chain as the documentation says to compute it."""
    chain, prev = [], "0" * 64
    with psycopg.connect(database_url) as conn:
        for seq, entry_id in conn.execute("SELECT seq, entry_id FROM journal_seals ORDER BY seq"):
            entry = conn.execute("SELECT id, kind, donation_id, memo, created_at FROM "
                                 "journal_entries WHERE id = %s", (entry_id,)).fetchone()  # fmt: skip
            lines = conn.execute("SELECT id, account, amount_fen FROM journal_lines "
                                 "WHERE entry_id = %s ORDER BY id", (entry_id,)).fetchall()  # fmt: skip
            prev = documented_hash(seq, prev, entry, lines)
            chain.append((seq, entry_id, prev))
    return chain


# -- the database refuses ----------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_entries SET memo = 'forged' WHERE id = %(entry)s",
        "DELETE FROM journal_entries WHERE id = %(entry)s",
        "UPDATE journal_lines SET amount_fen = amount_fen * 2 WHERE entry_id = %(entry)s",
        "DELETE FROM journal_lines WHERE entry_id = %(entry)s",
        "UPDATE journal_seals SET hash = repeat('0', 64) WHERE entry_id = %(entry)s",
        "DELETE FROM journal_seals WHERE entry_id = %(entry)s",
    ],
)
def test_the_database_refuses_to_change_or_remove_journal_rows(
    client, app, donor, need_id, database_url, statement
) -> None:
    entry = pay(client, donor, need_id)
    assert seal_everything(app) == 1
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement, {"entry": entry})
        conn.rollback()
    assert verify_cli(app).exit_code == 0


# -- sealing and the published head ----------------------------------------------------------


def test_sealing_chains_entries_and_publishes_the_head(
    client, app, donor, need_id, database_url
) -> None:
    empty = client.get("/api/v1/ledger/head")
    assert empty.status_code == 200
    assert empty.get_json() == {"entry_count": 0, "head_hash": None, "sealed_at": None,
                                "unsealed_count": 0}  # fmt: skip
    entries = [pay(client, donor, need_id, amount) for amount in (100, 2345, 99)]
    assert client.get("/api/v1/ledger/head").get_json()["unsealed_count"] == 3

    # The worker's job (every few seconds) seals them, in id order; a second run finds
    # nothing left.
    assert tasks.SCHEDULE[tasks.seal_journal] <= 10
    assert tasks.sweep_journal in tasks.SCHEDULE
    assert run(app, tasks.seal_journal) == 3
    assert run(app, tasks.seal_journal) == 0
    chain = seals(app)
    assert [(seq, entry) for seq, entry, _ in chain] == list(enumerate(sorted(entries), 1))
    assert chain == recomputed_chain(database_url)

    response = client.get("/api/v1/ledger/head")
    assert response.headers["Cache-Control"] == "public, max-age=5"
    published = response.get_json()
    assert published["entry_count"] == 3
    assert published["head_hash"] == chain[-1][2]
    assert published["unsealed_count"] == 0
    assert published["sealed_at"].endswith("+08:00")

    # New entries extend the chain from the head.
    later = pay(client, donor, need_id, 500)
    assert seal_everything(app) == 1
    assert seals(app)[-1][:2] == (4, later)
    assert seals(app) == recomputed_chain(database_url)

    result = verify_cli(app)
    assert result.exit_code == 0, result.output
    head = client.get("/api/v1/ledger/head").get_json()
    assert f"OK: 4 entries sealed, head {head['head_hash']}" in result.output


def test_one_sealer_at_a_time(client, app, donor, need_id, database_url) -> None:
    pay(client, donor, need_id)
    with psycopg.connect(database_url) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)", sealing.SEAL_LOCK)
        started = time.monotonic()
        with app.app_context():
            assert sealing.seal_pending() == 0  # at once, not waiting for the other
            db.session.rollback()
        assert time.monotonic() - started < 2
    assert seal_everything(app) == 1


def test_an_entry_that_commits_late_is_sealed_later(client, app, donor, need_id) -> None:
    """A lower id committed after a higher one was sealed gets the next seq: seal order."""
    out_trade_no = order(client, donor, need_id, 4321)
    notice = parse_notification(to_xml(notification(out_trade_no, 4321)), app.config["SETTINGS"])
    written, release, failures = threading.Event(), threading.Event(), []

    def slow_payment() -> None:
        try:
            with app.app_context():
                assert apply_payment(notice).applied  # the entry's id is taken here
                written.set()
                release.wait(30)
                db.session.commit()
                db.session.remove()
        except Exception as exc:
            failures.append(exc)
            written.set()

    thread = threading.Thread(target=slow_payment)
    thread.start()
    assert written.wait(30)
    quick = pay(client, donor, need_id)
    assert run(app, tasks.seal_journal) == 1  # only what is committed
    release.set()
    thread.join(30)
    assert not failures
    slow = entry_of(app, out_trade_no)
    assert slow < quick
    assert run(app, tasks.seal_journal) == 1  # the frequent run looks a little below the head
    assert [(seq, entry) for seq, entry, _ in seals(app)] == [(1, quick), (2, slow)]
    assert verify_cli(app).exit_code == 0


def test_payments_while_sealing_lose_nothing(
    client, app, donor, need_id, live_server, database_url
) -> None:
    orders = [order(client, donor, need_id, 100 + i) for i in range(48)]
    stop, failures, runs = threading.Event(), [], []

    def sealer() -> None:
        while not stop.is_set():
            try:
                runs.append(run(app, tasks.seal_journal))
            except Exception as exc:
                failures.append(exc)
                return

    def pay_over_http(index: int) -> str:
        body = to_xml(notification(orders[index], 100 + index))
        return requests.post(f"{live_server}{NOTIFY}", data=body, timeout=30).text

    sealers = [threading.Thread(target=sealer) for _ in range(2)]  # two workers, one lock
    for thread in sealers:
        thread.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(pay_over_http, range(len(orders))))
    finally:
        stop.set()
        for thread in sealers:
            thread.join(30)
    assert not failures
    assert all(SUCCESS in answer for answer in answers)
    assert sum(runs) > 0
    run(app, tasks.sweep_journal)
    with app.app_context():
        entries = set(db.session.scalars(sa.select(JournalEntry.id)))
    chain = seals(app)
    assert len(entries) == len(orders)
    assert [seq for seq, _, _ in chain] == list(range(1, len(orders) + 1))
    assert {entry for _, entry, _ in chain} == entries
    assert chain == recomputed_chain(database_url)
    result = verify_cli(app)
    assert result.exit_code == 0, result.output
    assert f"OK: {len(orders)} entries sealed" in result.output


# -- verify catches tampering done with the triggers off --------------------------------------


def sealed_journal(client, app, donor, need_id, database_url) -> list[int]:
    """Five sealed entries, the sequence skipping ids between the third and the fourth (as a
    rolled-back transaction leaves them): room for a forger to insert among them."""
    entries = [pay(client, donor, need_id, 1000 + i) for i in range(3)]
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT setval('journal_entries_id_seq', "
                     "nextval('journal_entries_id_seq') + 10)")  # fmt: skip
    entries += [pay(client, donor, need_id, 2000 + i) for i in range(2)]
    result = app.test_cli_runner().invoke(args=["ledger", "seal"])
    assert result.exit_code == 0, result.output
    assert "sealed 5 entries" in result.output
    clean = verify_cli(app)
    assert clean.exit_code == 0, clean.output
    return entries


def created_at(database_url: str, entry_id: int) -> datetime:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT created_at FROM journal_entries WHERE id = %s", (entry_id,)
        ).fetchone()[0]


def forge_entry(conn: psycopg.Connection, entry_id: int, when: datetime) -> None:
    conn.execute("INSERT INTO journal_entries (id, kind, memo, created_at) "
                 "VALUES (%s, 'donation', '捐赠 LS2026forged', %s)", (entry_id, when))  # fmt: skip
    conn.execute("INSERT INTO journal_lines (entry_id, account, amount_fen) VALUES "
                 "(%s, 'need:1', 88800), (%s, 'clearing:wechat', -88800)", (entry_id, entry_id))  # fmt: skip


def edit_line_amount(conn, entries, database_url) -> tuple[int, str]:
    """(a) Two lines of the second entry moved by the same amount: it still balances."""
    conn.execute("SET session_replication_role = replica")
    conn.execute("UPDATE journal_lines SET amount_fen = amount_fen + sign(amount_fen) * 100000 "
                 "WHERE entry_id = %s", (entries[1],))  # fmt: skip
    return entries[1], "hash_mismatch"


def delete_entry(conn, entries, database_url) -> tuple[int, str]:
    """(b) The second entry and its lines removed (its seal stays: it refers to it)."""
    conn.execute("SET session_replication_role = replica")  # no FK check, no cascade
    conn.execute("DELETE FROM journal_lines WHERE entry_id = %s", (entries[1],))
    conn.execute("DELETE FROM journal_entries WHERE id = %s", (entries[1],))
    return entries[1], "entry_missing"


def insert_line(conn, entries, database_url) -> tuple[int, str]:
    """(c) A balanced pair of lines added to the third entry."""
    conn.execute("ALTER TABLE journal_lines DISABLE TRIGGER USER")
    conn.execute("INSERT INTO journal_lines (entry_id, account, amount_fen) VALUES "
                 "(%s, 'need:1', 5000), (%s, 'clearing:wechat', -5000)", (entries[2], entries[2]))  # fmt: skip
    conn.execute("ALTER TABLE journal_lines ENABLE TRIGGER USER")
    return entries[2], "hash_mismatch"


def insert_entry_among_sealed(conn, entries, database_url) -> tuple[int, str]:
    """(d) An entry in the ids the sequence skipped, dated like its neighbours an hour ago."""
    forged = entries[2] + 1
    conn.execute("SET session_replication_role = replica")
    forge_entry(conn, forged, created_at(database_url, entries[2]) - timedelta(hours=1))
    return forged, "out_of_place"


def insert_entry_dated_now_among_sealed(conn, entries, database_url) -> tuple[int, str]:
    """(d') An entry in the skipped ids dated after the next entry was sealed."""
    forged = entries[2] + 2
    conn.execute("ALTER TABLE journal_entries DISABLE TRIGGER USER")
    conn.execute("ALTER TABLE journal_lines DISABLE TRIGGER USER")
    forge_entry(conn, forged, utcnow() + timedelta(minutes=5))
    conn.execute("ALTER TABLE journal_entries ENABLE TRIGGER USER")
    conn.execute("ALTER TABLE journal_lines ENABLE TRIGGER USER")
    return forged, "out_of_place"


def append_backdated_entry(conn, entries, database_url) -> tuple[int, str]:
    """(d'') A new entry above the sealed ones, claiming to be an hour older than they are."""
    forged = conn.execute("SELECT nextval('journal_entries_id_seq')").fetchone()[0]
    conn.execute("SET session_replication_role = replica")
    forge_entry(conn, forged, created_at(database_url, entries[0]) - timedelta(hours=1))
    return forged, "out_of_place"


def edit_memo(conn, entries, database_url) -> tuple[int, str]:
    """(e) The fourth entry's memo changed."""
    conn.execute("ALTER TABLE journal_entries DISABLE TRIGGER USER")
    conn.execute("UPDATE journal_entries SET memo = '捐赠 LS-edited' WHERE id = %s", (entries[3],))
    conn.execute("ALTER TABLE journal_entries ENABLE TRIGGER USER")
    return entries[3], "hash_mismatch"


def delete_seal(conn, entries, database_url) -> tuple[int, str]:
    """A seal removed from the middle of the chain: seq 2 is missing, before seq 3's entry."""
    conn.execute("SET session_replication_role = replica")
    conn.execute("DELETE FROM journal_seals WHERE seq = 2")
    return entries[2], "seq_gap"


def orphan_line(conn, entries, database_url) -> tuple[int, str]:
    """A line of an entry that does not exist."""
    conn.execute("SET session_replication_role = replica")
    conn.execute("INSERT INTO journal_lines (entry_id, account, amount_fen) "
                 "VALUES (987654321, 'need:1', 100)")  # fmt: skip
    return 987654321, "orphan_line"


TAMPERING = [
    edit_line_amount,
    delete_entry,
    insert_line,
    insert_entry_among_sealed,
    insert_entry_dated_now_among_sealed,
    append_backdated_entry,
    edit_memo,
    delete_seal,
    orphan_line,
]


@pytest.mark.parametrize("tamper", TAMPERING)
def test_verify_names_the_first_entry_tampered_with(
    client, app, donor, need_id, database_url, tamper
) -> None:
    entries = sealed_journal(client, app, donor, need_id, database_url)
    with psycopg.connect(database_url) as conn:
        bad_entry, kind = tamper(conn, entries, database_url)
    # The worker's sweep seals nothing out of place: the forgery stays visible.
    run(app, tasks.sweep_journal)
    result = verify_cli(app)
    assert result.exit_code == 1, result.output
    assert f"BAD entry {bad_entry}" in result.output
    assert f"({kind})" in result.output
    with app.app_context():
        found = sealing.verify()
    assert (found.problem.entry_id, found.problem.kind) == (bad_entry, kind)
    # The triggers are back on: nobody can repair the damage by editing more rows.
    with pytest.raises(psycopg.errors.InsufficientPrivilege), psycopg.connect(database_url) as conn:
        conn.execute("UPDATE journal_entries SET memo = memo")


def test_a_rewritten_tail_is_caught_against_a_published_head(
    client, app, donor, need_id, database_url
) -> None:
    """Whoever removes the newest entry with its seal (and rewrites the accounts' totals)
    leaves a sound but shorter chain; the head published earlier no longer matches."""
    entries = sealed_journal(client, app, donor, need_id, database_url)
    published = client.get("/api/v1/ledger/head").get_json()
    expect = f"{published['entry_count']}:{published['head_hash']}"
    assert verify_cli(app, "--expect", expect).exit_code == 0
    with psycopg.connect(database_url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM journal_seals WHERE entry_id = %s", (entries[-1],))
        conn.execute("DELETE FROM journal_lines WHERE entry_id = %s", (entries[-1],))
        conn.execute("DELETE FROM journal_entries WHERE id = %s", (entries[-1],))
    # The accounts' sealed totals still count the removed entry's lines.
    caught = verify_cli(app)
    assert caught.exit_code == 1 and "(totals_mismatch)" in caught.output
    # Whoever also rewrites the totals leaves nothing inside the chain to betray it.
    with psycopg.connect(database_url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("""
            UPDATE journal_account_totals t SET balance_fen = COALESCE((
                SELECT sum(l.amount_fen) FROM journal_lines l
                JOIN journal_seals s ON s.entry_id = l.entry_id WHERE l.account = t.account), 0)
        """)
    assert verify_cli(app).exit_code == 0
    result = verify_cli(app, "--expect", expect)
    assert result.exit_code == 1
    assert "(head_mismatch)" in result.output
    assert verify_cli(app, "--expect", "5:nothex").exit_code == 2


def test_an_operator_may_seal_an_entry_out_of_place_on_purpose(
    client, app, donor, need_id, database_url
) -> None:
    entries = sealed_journal(client, app, donor, need_id, database_url)
    with psycopg.connect(database_url) as conn:
        forged, _ = append_backdated_entry(conn, entries, database_url)
    refused = app.test_cli_runner().invoke(args=["ledger", "seal"])
    assert "sealed 0 entries" in refused.output
    assert f"entry {forged} is out of place" in refused.output
    accepted = app.test_cli_runner().invoke(args=["ledger", "seal", "--include-late"])
    assert "sealed 1 entries" in accepted.output
    assert verify_cli(app).exit_code == 0


def plain_sums(database_url: str) -> dict[str, int]:
    """Every account's balance as a plain SUM over all its lines."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT account, sum(amount_fen) FROM journal_lines GROUP BY account")
        return {account: int(total) for account, total in rows}


def kept_balances(app: Flask, accounts: list[str]) -> dict[str, int]:
    from backend.ledger.services import balance

    with app.app_context():
        found = {account: balance([account]) for account in accounts}
        db.session.remove()
        return found


def test_balances_count_every_entry_once_sealed_or_not(
    client, app, donor, need_id, database_url
) -> None:
    """A balance is the sealer's total plus the pending lines: the same as a plain SUM
    before, between and after sealing runs, and after the totals are rebuilt."""
    for amount in (1000, 2345, 17):
        pay(client, donor, need_id, amount)
    expected = plain_sums(database_url)
    assert kept_balances(app, list(expected)) == expected  # nothing sealed yet
    with app.app_context():
        assert sealing.seal_pending(batch=2) == 2  # half sealed
        db.session.commit()
    pay(client, donor, need_id, 500)
    expected = plain_sums(database_url)
    assert kept_balances(app, list(expected)) == expected
    seal_everything(app)
    assert kept_balances(app, list(expected)) == expected
    with app.app_context():
        assert sealing.unsealed_count() == 0
    with psycopg.connect(database_url) as conn:  # the derived totals lost
        conn.execute("TRUNCATE journal_account_totals")
    assert kept_balances(app, list(expected)) != expected
    rebuilt = app.test_cli_runner().invoke(args=["ledger", "rebuild-totals"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert kept_balances(app, list(expected)) == expected
    assert verify_cli(app).exit_code == 0


def test_verify_catches_an_edited_total(client, app, donor, need_id, database_url) -> None:
    pay(client, donor, need_id, 1000)
    seal_everything(app)
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE journal_account_totals SET balance_fen = balance_fen + 1 "
                     "WHERE account LIKE 'need:%'")  # fmt: skip
    result = verify_cli(app)
    assert result.exit_code == 1
    assert "(totals_mismatch)" in result.output and f"need:{need_id}" in result.output
