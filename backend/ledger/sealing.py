"""The sealed journal: committed entries chained by SHA-256 in the order they were sealed.

Payments only write entries; the worker seals them afterwards (`seal_pending`), so sealing
never holds up a payment. Each seal (`journal_seals`) gives an entry the next sequence
number (1, 2, 3 …) and a hash over the previous seal's hash and the entry as it is. The
newest seal (`head`) is published; `verify` recomputes the whole chain from the rows alone
(no trust in the append-only triggers, which a superuser can turn off).

The canonical form of an entry sealed at `seq` after a seal whose hash is `prev` (64 zeros
for seq 1) is a sequence of netstrings (`<length in bytes, decimal>:<UTF-8 bytes>,`):

    "linshan-journal-seal/1", seq, prev,
    entry id, kind, donation_id ("" when null), memo, created_at, number of lines,
    then for each line in id order: line id, account, amount_fen

Integers are written in decimal (a minus sign for negative amounts, no leading zeros);
created_at is UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fraction digits). The
seal's hash is the lowercase hex SHA-256 of those bytes (`canonical_form`, `seal_hash`).

Entries are sealed in id order among those committed when the sealer looks; an entry
with a lower id that commits later is sealed by a later run, with a higher seq: the chain
order is the seal order. An unsealed entry that cannot be a late commit is *out of place*
(`OUT_OF_PLACE`): it was inserted behind the application's back. The sealer leaves it
unsealed, so `verify` goes on naming it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from backend.common.time import utcnow
from backend.extensions import db

#: the first element of every canonical form (bumped if the form ever changes)
FORM_TAG = "linshan-journal-seal/1"
#: the `prev` of the first seal
GENESIS_HASH = "0" * 64
#: advisory lock (class, key) held by the one sealer at work
SEAL_LOCK = (41_003, 0)
#: entries sealed per statement
SEAL_BATCH = 5000
#: how long an entry's transaction may stay open before it commits and still be sealed
SEAL_GRACE = timedelta(minutes=10)
#: how far the clocks of the machines writing entries and seals may disagree
CLOCK_SKEW = timedelta(minutes=1)
#: how far below the highest sealed entry id the frequent (non-sweep) runs look for late
#: commits; the sweep looks at everything
RECENT_WINDOW = 10_000
#: seals read per round by `verify`
VERIFY_CHUNK = 5000

_MIN_BIGINT = -(2**63)

#: An unsealed entry (alias `e`) that no honest transaction could have left unsealed (every
#: test is an index lookup): its id is below the highest sealed one and the newest seal was
#: made more than the grace after it claims to have been created (an honest transaction
#: commits within the grace, and the sealer picks it up within a minute); or the nearest
#: higher-numbered sealed entry was sealed clearly before it claims to have been created
#: (its id was given out before that entry's); or the nearest lower-numbered sealed entry
#: claims to be newer by more than the grace (ids are given out in time order).
OUT_OF_PLACE = """(
    COALESCE(e.id < (SELECT max(entry_id) FROM journal_seals)
        AND (SELECT sealed_at FROM journal_seals ORDER BY seq DESC LIMIT 1)
            > e.created_at + CAST(:grace AS interval), false)
    OR COALESCE((
        SELECT later.sealed_at FROM journal_seals later
        WHERE later.entry_id = (SELECT min(entry_id) FROM journal_seals WHERE entry_id > e.id)
    ) < e.created_at - CAST(:skew AS interval), false)
    OR COALESCE((
        SELECT earlier.created_at FROM journal_entries earlier
        WHERE earlier.id = (SELECT max(entry_id) FROM journal_seals WHERE entry_id < e.id)
    ) > e.created_at + CAST(:grace AS interval), false)
)"""

#: the sealer's (head seq, head hash, highest sealed entry id)
HEAD_FOR_SEALING_SQL = sa.text("""
SELECT (SELECT seq FROM journal_seals ORDER BY seq DESC LIMIT 1) AS seq,
       (SELECT hash FROM journal_seals ORDER BY seq DESC LIMIT 1) AS hash,
       (SELECT max(entry_id) FROM journal_seals) AS max_entry_id
""")

# The unsealed entries are found first (an anti-join along both indexes, fenced by OFFSET 0
# so that the out-of-place tests run on them alone, not on every sealed entry).
_PENDING_SQL = """
WITH candidates AS (
    SELECT e.id FROM (
        SELECT e.id, e.created_at FROM journal_entries e
        WHERE e.id >= :floor
          AND NOT EXISTS (
              SELECT FROM journal_seals s WHERE s.entry_id = e.id AND s.entry_id >= :floor)
        ORDER BY e.id
        OFFSET 0
    ) AS e
    {out_of_place}
    ORDER BY e.id
    LIMIT :batch
)
SELECT e.id, e.kind, e.donation_id, e.memo, e.created_at,
       l.id AS line_id, l.account, l.amount_fen
FROM candidates c
JOIN journal_entries e ON e.id = c.id
LEFT JOIN journal_lines l ON l.entry_id = e.id
ORDER BY e.id, l.id
"""
PENDING_SQL = sa.text(_PENDING_SQL.format(out_of_place=f"WHERE NOT {OUT_OF_PLACE}"))
PENDING_INCLUDING_LATE_SQL = sa.text(_PENDING_SQL.format(out_of_place=""))

INSERT_SEALS_SQL = sa.text("""
INSERT INTO journal_seals (seq, entry_id, hash, sealed_at)
SELECT s.seq, s.entry_id, s.hash, :sealed_at
FROM unnest(CAST(:seqs AS bigint[]), CAST(:entry_ids AS bigint[]),
            CAST(:hashes AS varchar[])) AS s(seq, entry_id, hash)
""")

#: an account whose kept total differs from the sum of its lines over sealed entries
TOTALS_DRIFT_SQL = sa.text("""
WITH computed AS (
    SELECT l.account, sum(l.amount_fen) AS total FROM journal_lines l
    JOIN journal_seals s ON s.entry_id = l.entry_id
    GROUP BY l.account
)
SELECT COALESCE(c.account, t.account) AS account, COALESCE(t.balance_fen, 0) AS kept,
       COALESCE(c.total, 0) AS computed
FROM computed c FULL JOIN journal_account_totals t ON t.account = c.account
WHERE COALESCE(c.total, 0) <> COALESCE(t.balance_fen, 0)
ORDER BY 1 LIMIT 1
""")

#: what sealing a batch does to the balances' two halves, in the same transaction: the
#: entries leave `journal_pending` and their lines join the accounts' totals, so every
#: committed entry counts once in `ledger.services.balance`, whenever it is read
MOVE_TO_TOTALS_SQL = sa.text("""
WITH sealed AS (
    DELETE FROM journal_pending WHERE entry_id = ANY(CAST(:entry_ids AS bigint[]))
)
INSERT INTO journal_account_totals (account, balance_fen)
SELECT account, sum(amount_fen) FROM journal_lines
WHERE entry_id = ANY(CAST(:entry_ids AS bigint[]))
GROUP BY account
ON CONFLICT (account) DO UPDATE
SET balance_fen = journal_account_totals.balance_fen + excluded.balance_fen
""")

_FIRST_OUT_OF_PLACE_SQL = """
SELECT e.id, e.created_at FROM (
    SELECT e.id, e.created_at FROM journal_entries e
    WHERE NOT EXISTS (SELECT FROM journal_seals s WHERE s.entry_id = e.id)
    ORDER BY e.id
    OFFSET 0
) AS e
WHERE {out_of_place}
ORDER BY e.id
LIMIT 1
"""
FIRST_OUT_OF_PLACE_SQL = sa.text(_FIRST_OUT_OF_PLACE_SQL.format(out_of_place=OUT_OF_PLACE))


class Line(NamedTuple):
    """A journal line as it is sealed."""

    id: int
    account: str
    amount_fen: int


@dataclass(frozen=True)
class Entry:
    """A journal entry as it is sealed: its fields and its lines in id order."""

    id: int
    kind: str
    donation_id: int | None
    memo: str
    created_at: datetime
    lines: list[Line]


def _netstring(value: str) -> bytes:
    data = value.encode()
    return b"%d:%s," % (len(data), data)


def utc_text(instant: datetime) -> str:
    """`instant` in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_form(seq: int, prev_hash: str, entry: Entry) -> bytes:
    """The bytes a seal's hash is taken over (see the module's documentation)."""
    fields = [
        FORM_TAG,
        str(seq),
        prev_hash,
        str(entry.id),
        entry.kind,
        "" if entry.donation_id is None else str(entry.donation_id),
        entry.memo,
        utc_text(entry.created_at),
        str(len(entry.lines)),
    ]
    for line in entry.lines:
        fields += (str(line.id), line.account, str(line.amount_fen))
    return b"".join(_netstring(field) for field in fields)


def seal_hash(seq: int, prev_hash: str, entry: Entry) -> str:
    """The hash of the seal at `seq` of `entry`, after the seal whose hash is `prev_hash`."""
    return hashlib.sha256(canonical_form(seq, prev_hash, entry)).hexdigest()


def _entries(rows: Iterable[Any]) -> list[Entry]:
    """Entries from rows of an entry joined to its lines, ordered by entry id, line id."""
    entries: list[Entry] = []
    current: Entry | None = None
    for row in rows:
        if current is None or current.id != row.id:
            current = Entry(row.id, row.kind, row.donation_id, row.memo, row.created_at, [])
            entries.append(current)
        if row.line_id is not None:
            current.lines.append(Line(row.line_id, row.account, row.amount_fen))
    return entries


def _window() -> dict[str, timedelta]:
    return {"grace": SEAL_GRACE, "skew": CLOCK_SKEW}


def seal_pending(batch: int = SEAL_BATCH, *, sweep: bool = True, include_late: bool = False) -> int:
    """Seal up to `batch` committed, unsealed entries in id order; how many were sealed.

    Only one sealer works at a time: while another transaction holds the sealer's lock this
    returns 0 at once. With `sweep`, every unsealed entry is a candidate; without, only those
    near or above the highest sealed entry (cheap: what the frequent runs do). Out-of-place
    entries (`OUT_OF_PLACE`) are left unsealed unless `include_late` (for an operator who
    has checked them). Flushes; the caller commits, which releases the lock.
    """
    connection = db.session.connection()
    if not connection.execute(sa.select(sa.func.pg_try_advisory_xact_lock(*SEAL_LOCK))).scalar():
        return 0
    # The estimated cost of the out-of-place tests would make PostgreSQL compile the
    # query (JIT), which takes longer than running it.
    connection.execute(sa.text("SET LOCAL jit = off"))
    head = connection.execute(HEAD_FOR_SEALING_SQL).one()
    seq = head.seq or 0
    prev_hash = head.hash or GENESIS_HASH
    recent = not sweep and head.max_entry_id is not None
    floor = head.max_entry_id - RECENT_WINDOW if recent else _MIN_BIGINT
    statement = PENDING_INCLUDING_LATE_SQL if include_late else PENDING_SQL
    rows = connection.execute(statement, {"floor": floor, "batch": batch, **_window()})
    entries = _entries(rows)
    if not entries:
        return 0
    seqs, entry_ids, hashes = [], [], []
    for entry in entries:
        seq += 1
        prev_hash = seal_hash(seq, prev_hash, entry)
        seqs.append(seq)
        entry_ids.append(entry.id)
        hashes.append(prev_hash)
    connection.execute(
        INSERT_SEALS_SQL,
        {"seqs": seqs, "entry_ids": entry_ids, "hashes": hashes, "sealed_at": utcnow()},
    )
    connection.execute(MOVE_TO_TOTALS_SQL, {"entry_ids": entry_ids})
    return len(entries)


class JournalHead(NamedTuple):
    """The newest seal: how many entries the chain holds, its hash, when it was made."""

    entry_count: int
    head_hash: str | None
    sealed_at: datetime | None


def head() -> JournalHead:
    """The newest seal (0, None, None before the first)."""
    row = db.session.execute(
        sa.text("SELECT seq, hash, sealed_at FROM journal_seals ORDER BY seq DESC LIMIT 1")
    ).first()
    if row is None:
        return JournalHead(0, None, None)
    return JournalHead(row.seq, row.hash, row.sealed_at)


def unsealed_count() -> int:
    """Entries written and waiting for the sealer (`journal_pending`)."""
    return db.session.execute(sa.text("SELECT count(*) FROM journal_pending")).scalar_one()


@dataclass(frozen=True)
class PublishedHead:
    """What `GET /api/v1/ledger/head` publishes: the newest seal and what awaits sealing."""

    entry_count: int
    head_hash: str | None
    sealed_at: datetime | None
    unsealed_count: int


def published_head() -> PublishedHead:
    """The newest seal, and how many newer entries wait for the sealer."""
    return PublishedHead(*head(), unsealed_count=unsealed_count())


@dataclass(frozen=True)
class Problem:
    """What is wrong with the journal, at which entry (and seal)."""

    #: hash_mismatch, entry_missing, seq_gap, orphan_line, out_of_place, head_mismatch
    kind: str
    #: the entry at fault (None when it cannot be known)
    entry_id: int | None
    #: the seal at fault, if any
    seq: int | None
    #: for people, in Chinese
    message: str


@dataclass(frozen=True)
class VerifyResult:
    """What `verify` found: the chain checked up to its head, or the first problem."""

    #: seals found sound (all of them when there is no problem)
    entry_count: int
    #: the hash of the newest sound seal
    head_hash: str | None
    #: when the newest sound seal was made
    sealed_at: datetime | None
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        """Whether the journal is as it was sealed."""
        return self.problem is None


def _read_entries(connection: Connection, entry_ids: list[int]) -> dict[int, Entry]:
    rows = connection.execute(
        sa.text("""
            SELECT e.id, e.kind, e.donation_id, e.memo, e.created_at,
                   l.id AS line_id, l.account, l.amount_fen
            FROM journal_entries e LEFT JOIN journal_lines l ON l.entry_id = e.id
            WHERE e.id = ANY(CAST(:ids AS bigint[]))
            ORDER BY e.id, l.id
        """),
        {"ids": entry_ids},
    )
    return {entry.id: entry for entry in _entries(rows)}


def _verify_chain(
    connection: Connection,
    progress: Callable[[int], None] | None,
    expect: tuple[int, str] | None,
) -> VerifyResult:
    count, prev_hash, sealed_at = 0, GENESIS_HASH, None
    after = _MIN_BIGINT

    def result(problem: Problem | None = None) -> VerifyResult:
        return VerifyResult(count, prev_hash if count else None, sealed_at, problem)

    while True:
        seals = connection.execute(
            sa.text("""
                SELECT seq, entry_id, hash, sealed_at FROM journal_seals
                WHERE seq > :after ORDER BY seq LIMIT :chunk
            """),
            {"after": after, "chunk": VERIFY_CHUNK},
        ).all()
        if not seals:
            break
        entries = _read_entries(connection, [s.entry_id for s in seals])
        for seal in seals:
            expected = count + 1
            if seal.seq != expected:
                return result(Problem(
                    "seq_gap", seal.entry_id, expected,
                    f"第 {expected} 号封印缺失（其后是第 {seal.seq} 号，封存分录 {seal.entry_id}）："
                    "封印被删除或插入",
                ))  # fmt: skip
            entry = entries.get(seal.entry_id)
            if entry is None:
                return result(Problem(
                    "entry_missing", seal.entry_id, seal.seq,
                    f"分录 {seal.entry_id} 已不存在（第 {seal.seq} 号封印仍在）：分录被删除",
                ))  # fmt: skip
            if seal_hash(seal.seq, prev_hash, entry) != seal.hash:
                return result(Problem(
                    "hash_mismatch", seal.entry_id, seal.seq,
                    f"分录 {seal.entry_id} 与第 {seal.seq} 号封印不符："
                    "分录或其明细被改动，或明细被增删（或封印本身被改动）",
                ))  # fmt: skip
            if expect is not None and seal.seq == expect[0] and seal.hash != expect[1]:
                return result(Problem(
                    "head_mismatch", seal.entry_id, seal.seq,
                    f"第 {seal.seq} 号封印的哈希与公布的不同：整条链被重算过",
                ))  # fmt: skip
            count, prev_hash, sealed_at = seal.seq, seal.hash, seal.sealed_at
        after = seals[-1].seq
        if progress is not None:
            progress(count)
    if expect is not None and expect[0] > count:
        return result(Problem(
            "head_mismatch", None, expect[0],
            f"公布过的第 {expect[0]} 号封印已不存在（链只有 {count} 个封印）：末尾的封印被删除",
        ))  # fmt: skip
    return result()


def first_out_of_place(connection: Connection | None = None) -> tuple[int, datetime] | None:
    """(id, created_at) of the lowest unsealed entry that no honest transaction explains."""
    connection = connection or db.session.connection()
    connection.execute(sa.text("SET LOCAL jit = off"))  # see seal_pending
    row = connection.execute(FIRST_OUT_OF_PLACE_SQL, _window()).first()
    return None if row is None else (row.id, row.created_at)


def verify(
    progress: Callable[[int], None] | None = None, expect: tuple[int, str] | None = None
) -> VerifyResult:
    """Recompute the chain from the rows, seal by seal, and report the first problem.

    In one read-only snapshot on a connection of its own, in rounds of `VERIFY_CHUNK` seals
    (memory stays constant): every seq from 1 on, each seal's entry present, each hash equal
    to the one recomputed from the previous hash and the entry with its lines as they are
    now (an edited entry or line, a line added or removed); then lines whose entry is gone,
    accounts' totals that differ from their sealed lines, and unsealed entries out of place (inserted behind the application's back). With
    `expect` (seq, hash), the seal at seq must still carry that published hash. `progress`
    is called with the number of seals checked after each round.
    """
    with db.engine.connect() as connection:
        connection = connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        result = _verify_chain(connection, progress, expect)
        if result.problem is not None:
            return result
        orphan = connection.execute(
            sa.text("""
                SELECT l.id, l.entry_id FROM journal_lines l
                WHERE NOT EXISTS (SELECT FROM journal_entries e WHERE e.id = l.entry_id)
                ORDER BY l.id LIMIT 1
            """)
        ).first()
        if orphan is not None:
            return VerifyResult(result.entry_count, result.head_hash, result.sealed_at, Problem(
                "orphan_line", orphan.entry_id, None,
                f"明细 {orphan.id} 所属的分录 {orphan.entry_id} 不存在：分录被删除或明细被插入",
            ))  # fmt: skip
        drift = connection.execute(TOTALS_DRIFT_SQL).first()
        if drift is not None:
            return VerifyResult(result.entry_count, result.head_hash, result.sealed_at, Problem(
                "totals_mismatch", None, None,
                f"账户 {drift.account} 的封存合计为 {drift.kept} 分，按已封存分录重算为 "
                f"{drift.computed} 分：合计被改动（可用 ledger rebuild-totals 重算）",
            ))  # fmt: skip
        suspect = first_out_of_place(connection)
        if suspect is not None:
            return VerifyResult(result.entry_count, result.head_hash, result.sealed_at, Problem(
                "out_of_place", suspect[0], None,
                f"分录 {suspect[0]} 没有封印，也不像等待封存的新分录（记账时间 "
                f"{utc_text(suspect[1])}）：可能是绕过系统插入的；核实无误后可用 "
                "ledger seal --include-late 封存",
            ))  # fmt: skip
        return result


def rebuild_totals() -> int:
    """Recompute every account's total from the sealed entries' lines and every pending
    entry from the unsealed ones (they are derived); how many accounts. Runs under the
    sealer's lock, so no sealing happens meanwhile; flushes."""
    connection = db.session.connection()
    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(*SEAL_LOCK)))
    connection.execute(sa.text("DELETE FROM journal_account_totals"))
    connection.execute(
        sa.text("""
            INSERT INTO journal_account_totals (account, balance_fen)
            SELECT l.account, sum(l.amount_fen) FROM journal_lines l
            JOIN journal_seals s ON s.entry_id = l.entry_id GROUP BY l.account
        """)
    )
    connection.execute(sa.text("DELETE FROM journal_pending"))
    connection.execute(
        sa.text("""
            INSERT INTO journal_pending (entry_id)
            SELECT e.id FROM journal_entries e
            WHERE NOT EXISTS (SELECT FROM journal_seals s WHERE s.entry_id = e.id)
        """)
    )
    return connection.execute(sa.text("SELECT count(*) FROM journal_account_totals")).scalar_one()
