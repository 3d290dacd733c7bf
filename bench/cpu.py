"""Who used the CPU during a measurement: the app, PostgreSQL, Redis, the load generator.

Read from /proc (Linux): the machine's total from /proc/stat, the app's processes (the
gunicorn master and its workers), every `postgres` and `redis-server` process, and the
generator as the CPU time of this process's children that have ended (`RUSAGE_CHILDREN`:
the generator's processes or wrk) plus this process itself. "other" is what is left of the
busy time: other programs on the machine (e.g. someone's test run).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return (total - idle - iowait) / TICK, total / TICK


def _processes() -> dict[int, tuple[str, int, float]]:
    """pid: (command, parent pid, CPU seconds) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        close = raw.rfind(")")
        comm = raw[raw.find("(") + 1 : close]
        rest = raw[close + 2 :].split()
        # fields after the command: state ppid ... utime (11) stime (12)
        found[int(entry.name)] = (comm, int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK)
    return found


@dataclass(frozen=True)
class Snapshot:
    busy: float
    total: float
    app: dict[int, float]
    postgres: dict[int, float]
    redis: dict[int, float]
    mine: float


def snapshot(app_pid: int | None) -> Snapshot:
    """CPU seconds used so far by each group."""
    busy, total = _machine()
    procs = _processes()
    app_pids = set()
    if app_pid is not None:
        app_pids.add(app_pid)
        app_pids.update(pid for pid, (_, ppid, _) in procs.items() if ppid == app_pid)
    app = {p: procs[p][2] for p in app_pids if p in procs}
    postgres = {p: cpu for p, (comm, _, cpu) in procs.items() if comm.startswith("postgres")}
    redis = {p: cpu for p, (comm, _, cpu) in procs.items() if comm.startswith("redis-server")}
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    mine = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return Snapshot(busy, total, app, postgres, redis, mine)


def _grown(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used meanwhile by processes alive at the end (new ones: all of theirs)."""
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


def split(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Cores used on average by each group between two snapshots (the machine has 2).

    A process that ended in between (e.g. a short-lived PostgreSQL backend) is not seen;
    its CPU time counts as "other".
    """
    wall = (after.total - before.total) / (os.cpu_count() or 1)
    if wall <= 0:
        return {}
    app = _grown(before.app, after.app) / wall
    pg = _grown(before.postgres, after.postgres) / wall
    rd = _grown(before.redis, after.redis) / wall
    gen = (after.mine - before.mine) / wall
    busy = (after.busy - before.busy) / wall
    return {
        "app": round(app, 2),
        "postgres": round(pg, 2),
        "redis": round(rd, 2),
        "generator": round(gen, 2),
        "other": round(max(0.0, busy - app - pg - rd - gen), 2),
        "idle": round(max(0.0, (os.cpu_count() or 1) - busy), 2),
    }


def describe(cores: dict[str, float]) -> str:
    """'app 1.2, postgres 0.3, ...' in cores."""
    return ", ".join(f"{k} {v:.2f}" for k, v in cores.items())
