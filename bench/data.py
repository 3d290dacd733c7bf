"""The benchmark's database: created fresh, seeded, bulk-loaded, dropped; signed notifications."""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import psycopg

from backend.config import SANDBOX_MCH_ID
from tests.payments_support import notification, to_xml
from tests.support import with_database

#: a goal no benchmark reaches, so every need stays in fundraising
GOAL_FEN = 10**12
BEIJING_OFFSET = timedelta(hours=8)
NOTIFY_PATH = "/api/v1/payments/wechat/notify"


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (q from 0 to 1)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))
    return ordered[min(len(ordered), rank) - 1]


def app_environment(db_url: str, redis_url: str, instance: object, **extra: str) -> dict[str, str]:
    """The app's environment for a benchmark: this one's, without WeChat settings (the
    sandbox plays WeChat), on the benchmark's database, Redis and instance folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT_")}
    env.update(
        APP_ENV="development",
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        SECRET_KEY="bench-secret-key-" + "x" * 32,
        LOG_LEVEL="WARNING",
        PUBLIC_BASE_URL="http://127.0.0.1:5000",
        INSTANCE_PATH=str(instance),
    )
    env.update(extra)
    return env


def create_database(server_url: str) -> tuple[str, str]:
    """A new empty database on the server: (name, libpq URL)."""
    name = f"linshan_bench_{secrets.token_hex(4)}"
    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop the benchmark's database (connections closed by force)."""
    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Bar:
    """A one-line text progress bar on stderr (no tqdm needed)."""

    def __init__(self, label: str, total: int, unit: str = "") -> None:
        self.label, self.total, self.unit = label, max(1, total), unit
        self.done = 0
        self.started = time.perf_counter()
        self._last = 0.0
        self.tty = sys.stderr.isatty()
        self.show(force=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        self.show()

    def set(self, done: int) -> None:
        self.done = done
        self.show()

    def show(self, force: bool = False) -> None:
        now = time.perf_counter()
        every = 0.2 if self.tty else 5.0
        if not force and now - self._last < every and self.done < self.total:
            return
        self._last = now
        frac = min(1.0, self.done / self.total)
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = int(frac * 30)
        sys.stderr.write(
            ("\r" if self.tty else "")
            + f"  {self.label:<34} [{'#' * filled}{'.' * (30 - filled)}] {frac * 100:5.1f}%"
            + (
                f" {self.done:,}/{self.total:,}{self.unit} {rate:,.0f}/s {elapsed:5.1f}s"
                f" eta {eta:4.0f}s  "
                if self.unit != " s"
                else f" {self.done}/{self.total} s  "
            )
            + ("" if self.tty else "\n")
        )
        sys.stderr.flush()

    def close(self) -> None:
        self.show(force=True)
        if self.tty:
            sys.stderr.write("\n")
        sys.stderr.flush()


def seed(app, needs: dict[str, int]) -> tuple[int, dict[str, int]]:
    """A region tree, a foundation, a fund and the needs named in `needs`: (fund id, ids)."""
    from backend.common.time import utcnow
    from backend.extensions import db
    from backend.funds.models import Foundation, Fund
    from backend.needs.models import Need, NeedBudgetLine, NeedCategory, NeedStatus
    from backend.regions.models import RegionLevel
    from backend.regions.services import add_region

    with app.app_context():
        city = add_region("基准市", RegionLevel.CITY, None)
        district = add_region("基准区", RegionLevel.DISTRICT, city)
        street = add_region("基准街道", RegionLevel.STREET, district)
        community = add_region("基准社区", RegionLevel.COMMUNITY, street)
        foundation = Foundation(
            name="基准慈善基金会", credit_code="53330100MJ0000000B", mch_id=SANDBOX_MCH_ID
        )
        fund = Fund(
            foundation=foundation,
            region=community,
            name="基准社区慈善基金",
            committee_threshold_fen=500_000,
            public_fundraising=False,
        )
        db.session.add_all([foundation, fund])
        made = {}
        now = utcnow()
        for key in needs:
            need = Need(
                fund=fund,
                region=community,
                category=NeedCategory.ELDERLY,
                title=f"基准项目 {key}",
                story="性能基准用的项目：目标很大，筹款一直进行。",
                goal_fen=GOAL_FEN,
                status=NeedStatus.FUNDRAISING,
                beneficiary_count=10,
                published_at=now,
                budget_lines=[NeedBudgetLine(position=0, item="物资", amount_fen=GOAL_FEN)],
            )
            db.session.add(need)
            made[key] = need
        db.session.commit()
        ids = {key: need.id for key, need in made.items()}
        fund_id = fund.id
        db.session.remove()
    return fund_id, ids


def rebuild_counters(app, need_ids: Iterable[int], fund_ids: Iterable[int]) -> None:
    """Set counters from PostgreSQL (what `flask progress rebuild` does, for these ids)."""
    from backend.extensions import db
    from backend.progress.service import rebuild_fund, rebuild_need

    with app.app_context():
        for need_id in need_ids:
            rebuild_need(need_id)
            db.session.commit()
        for fund_id in fund_ids:
            rebuild_fund(fund_id)
            db.session.commit()
        db.session.remove()


COPY_COLUMNS = (
    "out_trade_no, need_id, fund_id, amount_fen, refunded_fen, anonymous, message, public_name,"
    " status, transaction_id, expires_at, paid_at, created_at, updated_at"
)


def amount_of(i: int) -> int:
    """A spread of amounts from 1 to 500 yuan, deterministic."""
    return 100 * (1 + (i * 7919) % 500)


def bulk_load_paid(url: str, need_id: int, fund_id: int, count: int, chunk: int = 50_000) -> int:
    """COPY `count` paid donations for a need (no journal rows); their sum in fen."""
    stamp = datetime.now(UTC).isoformat()
    total = 0
    bar = Bar(f"COPY {count:,} paid donations", count)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        triggers_off = _triggers_off(conn)  # a row trigger a donation would be slow here
        with cur.copy(f"COPY donations ({COPY_COLUMNS}) FROM STDIN") as copy:
            for start in range(0, count, chunk):
                stop = min(count, start + chunk)
                lines = []
                for i in range(start, stop):
                    amount = amount_of(i)
                    total += amount
                    lines.append(
                        f"BK{need_id:05d}{i:09d}\t{need_id}\t{fund_id}\t{amount}\t0\tf\t\t爱心人士\t"
                        f"paid\tBT{need_id:05d}{i:09d}\t{stamp}\t{stamp}\t{stamp}\t{stamp}\n"
                    )
                copy.write("".join(lines))
                bar.set(stop)
        if triggers_off:
            rebuild_month_totals(conn)
        conn.commit()
    bar.close()
    return total


def create_pending(url: str, prefix: str, targets: list[tuple[int | None, int]], count: int,
                   seed_value: int) -> list[tuple[str, int]]:  # fmt: skip
    """`count` pending orders dealt round-robin over (need id or None, fund id) targets."""
    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    expires = now + timedelta(hours=2)
    rows = []
    for i in range(count):
        need_id, fund_id = targets[i % len(targets)]
        rows.append((f"{prefix}{i:012d}", need_id, fund_id, 100 * rng.randint(1, 2000)))
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY donations (out_trade_no, need_id, fund_id, amount_fen, refunded_fen, anonymous,"
            " message, public_name, status, expires_at, created_at, updated_at) FROM STDIN"
        ) as copy:
            for out_trade_no, need_id, fund_id, amount in rows:
                copy.write_row(
                    (out_trade_no, need_id, fund_id, amount, 0, False, "", "爱心人士", "pending",
                     expires, now, now)
                )  # fmt: skip
        conn.commit()
    return [(r[0], r[3]) for r in rows]


def notification_xml(out_trade_no: str, total_fee: int, transaction_id: str) -> bytes:
    """A signed payment notification, as WeChat sends it."""
    time_end = (datetime.now(UTC) + BEIJING_OFFSET).strftime("%Y%m%d%H%M%S")
    return to_xml(
        notification(out_trade_no, total_fee, transaction_id=transaction_id, time_end=time_end)
    )


def transaction_id_for(out_trade_no: str) -> str:
    """WeChat's transaction id of an order's payment (28 characters, unique per order)."""
    return "4200" + hashlib.sha1(out_trade_no.encode()).hexdigest()[:24]  # noqa: S324


#: the bulk loads below insert rows known to be right (balanced entries, existing keys) with
#: the triggers off (`session_replication_role = replica`, a superuser's setting): the
#: deferred balance check would otherwise run once per line at commit. Without the right,
#: the triggers run and the load is slower.
REPLICA_ROLE = "SET LOCAL session_replication_role = replica"


def rebuild_month_totals(conn: psycopg.Connection) -> None:
    """Rewrite the needs' month totals (which the donations' triggers keep) after a load
    made with the triggers off."""
    from backend.donations.totals import REBUILD_MONTH_TOTALS_SQL

    for statement in REBUILD_MONTH_TOTALS_SQL:
        conn.execute(statement)


def _triggers_off(conn: psycopg.Connection) -> bool:
    """Turn the triggers off for the transaction, if this role may."""
    try:
        with conn.transaction():
            conn.execute(REPLICA_ROLE)
    except psycopg.Error:
        return False
    conn.execute(REPLICA_ROLE)
    return True


def bulk_load_ledger(url: str, need_id: int, fund_id: int, count: int, user_id: int,
                     user_every: int, user_below: int) -> int:  # fmt: skip
    """`count` paid donations to a need, each with its journal entry and two lines, made by
    PostgreSQL itself (generate_series) in one transaction; the donations `i` with
    `i % user_every == 0 and i < user_below` are `user_id`'s. Paid one second apart, in id
    order, the first a month ago. Their sum in fen (amounts as `amount_of`)."""
    with psycopg.connect(url) as conn:
        _triggers_off(conn)
        conn.execute(
            """
            INSERT INTO donations (out_trade_no, user_id, need_id, fund_id, amount_fen,
                refunded_fen, allocated_fen, anonymous, message, public_name, status,
                transaction_id, expires_at, paid_at, created_at, updated_at)
            SELECT 'BE' || lpad(i::text, 12, '0'),
                CASE WHEN i %% %(every)s = 0 AND i < %(below)s THEN %(user)s END,
                %(need)s, %(fund)s, 100 * (1 + (i::bigint * 7919) %% 500), 0, 0, false, '',
                '爱心人士', 'paid', 'BET' || lpad(i::text, 12, '0'),
                now() - interval '30 days' + i * interval '1 second' + interval '15 minutes',
                now() - interval '30 days' + i * interval '1 second',
                now() - interval '30 days' + i * interval '1 second',
                now() - interval '30 days' + i * interval '1 second'
            FROM generate_series(0, %(count)s - 1) AS i
            """,
            {"every": user_every, "below": user_below, "user": user_id, "need": need_id, "fund": fund_id,
             "count": count},
        )  # fmt: skip
        conn.execute(
            """
            INSERT INTO journal_entries (kind, donation_id, memo, created_at)
            SELECT 'donation', d.id, '捐赠 ' || d.out_trade_no, now()
            FROM donations d WHERE d.need_id = %(need)s AND d.out_trade_no LIKE 'BE%%'
            ORDER BY d.id
            """,
            {"need": need_id},
        )
        conn.execute(
            """
            INSERT INTO journal_lines (entry_id, account, amount_fen)
            SELECT e.id, line.account, line.amount_fen
            FROM journal_entries e JOIN donations d ON d.id = e.donation_id,
                LATERAL (VALUES ('need:' || d.need_id, d.amount_fen),
                                ('clearing:wechat', -d.amount_fen)) AS line(account, amount_fen)
            WHERE d.need_id = %(need)s AND d.out_trade_no LIKE 'BE%%' AND e.kind = 'donation'
            ORDER BY e.id
            """,
            {"need": need_id},
        )
        total = conn.execute(
            "SELECT sum(amount_fen) FROM donations WHERE need_id = %s", (need_id,)
        ).fetchone()[0]
        rebuild_month_totals(conn)
        conn.commit()
    return int(total)


def bulk_load_entries(url: str, count: int) -> int:
    """`count` balanced journal entries of two lines each (nothing else refers to them),
    made by PostgreSQL (generate_series) in one transaction; how many entries there are."""
    with psycopg.connect(url) as conn:
        _triggers_off(conn)
        conn.execute(
            """
            WITH entries AS (
                INSERT INTO journal_entries (kind, memo, created_at)
                SELECT 'adjustment', '基准分录 ' || i, now()
                FROM generate_series(1, %(count)s) AS i
                RETURNING id
            )
            INSERT INTO journal_lines (entry_id, account, amount_fen)
            SELECT entries.id, line.account, line.amount_fen
            FROM entries, LATERAL (VALUES ('bench:a', 100 + entries.id %% 1000),
                                          ('bench:b', -(100 + entries.id %% 1000)))
                AS line(account, amount_fen)
            """,
            {"count": count},
        )
        total = conn.execute("SELECT count(*) FROM journal_entries").fetchone()[0]
        conn.commit()
    return int(total)
