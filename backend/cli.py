"""`flask --app backend ...` commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from backend import embedded
from backend.accounts.models import ROLE_SCOPE, Role, RoleGrant, ScopeType, User
from backend.accounts.services import find_user, grant_role, revoke_grant
from backend.common.errors import DomainError
from backend.common.money import yuan
from backend.common.time import BEIJING
from backend.extensions import db
from backend.funds.backoffice import appoint, dismiss
from backend.funds.models import Fund


def register_commands(app: Flask) -> None:
    """Add the project's commands to `flask`."""
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(embedded_group)
    app.cli.add_command(roles_group)
    app.cli.add_command(worker_command)
    app.cli.add_command(progress_group)
    app.cli.add_command(ledger_group)
    app.cli.add_command(stats_group)
    app.cli.add_command(reconcile_group)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load the demo city: funds, spaces, needs, the people who run them, donations and
    expenses with their evidence (running it again adds nothing)."""
    from backend.demo.seed import count_donations, seed_demo

    def say(line: str) -> None:
        click.echo(f"  {line}")

    added = seed_demo(progress=say)
    db.session.commit()
    # After the commit, as the worker would: the progress counters count the donations.
    counted = count_donations(progress=say)
    db.session.commit()
    if counted:
        say(f"counters: {counted} donations counted")
    if any(added.values()):
        click.echo("demo data loaded: " + ", ".join(f"{k} {v}" for k, v in added.items()))
    else:
        click.echo("demo data already present: nothing changed")


@click.group("embedded", cls=AppGroup)
def embedded_group() -> None:
    """The embedded PostgreSQL and Redis used when no URLs are configured."""


@embedded_group.command("status")
def embedded_status() -> None:
    """Say which URLs this app uses."""
    click.echo(f"database: {current_app.config['SQLALCHEMY_DATABASE_URI']}")
    click.echo(f"redis:    {current_app.config['REDIS_URL']}")


@embedded_group.command("stop")
def embedded_stop() -> None:
    """Stop the embedded servers of this instance folder."""
    instance = Path(current_app.instance_path)
    db.engine.dispose()
    current_app.extensions["redis"].close()
    stopped_pg = embedded.stop_postgres(instance)
    stopped_redis = embedded.stop_redis(instance)
    click.echo(f"postgres: {'stopped' if stopped_pg else 'not running'}")
    click.echo(f"redis:    {'stopped' if stopped_redis else 'not running'}")


@click.group("roles", cls=AppGroup)
def roles_group() -> None:
    """Role grants: secretary, committee, supervisor, foundation_admin, platform_admin."""


def _user_or_fail(ref: str) -> User:
    user = find_user(ref)
    if user is None or user.deleted_at is not None:
        raise click.ClickException(f"no user {ref!r} (give a user id or an openid)")
    return user


def _scope_id(role: Role, fund: int | None, foundation: int | None) -> int | None:
    scope = ROLE_SCOPE[role]
    given = {ScopeType.FUND: fund, ScopeType.FOUNDATION: foundation}
    if scope == ScopeType.PLATFORM:
        if fund is not None or foundation is not None:
            raise click.UsageError(f"{role} is platform-wide: give neither --fund nor --foundation")
        return None
    other = foundation if scope == ScopeType.FUND else fund
    if given[scope] is None or other is not None:
        raise click.UsageError(f"{role} is granted on a {scope}: give --{scope} ID")
    return given[scope]


ROLE_CHOICE = click.Choice([r.value for r in Role])


@roles_group.command("grant")
@click.argument("user_ref", metavar="USER")
@click.argument("role", type=ROLE_CHOICE)
@click.option("--fund", type=int, help="the fund, for secretary, committee, supervisor")
@click.option("--foundation", type=int, help="the foundation, for foundation_admin")
def roles_grant(user_ref: str, role: str, fund: int | None, foundation: int | None) -> None:
    """Give USER (an id or an openid) ROLE in a scope."""
    user = _user_or_fail(user_ref)
    role_ = Role(role)
    scope_id = _scope_id(role_, fund, foundation)
    try:
        if ROLE_SCOPE[role_] == ScopeType.FUND:
            fund_ = db.session.get(Fund, scope_id)
            if fund_ is None:
                raise click.ClickException(f"no fund {scope_id}")
            grant = appoint(None, fund_, user.id, role_)  # recorded in the fund's audit log
        else:
            grant = grant_role(user, role_, scope_id)
    except DomainError as exc:
        raise click.ClickException(f"{exc.message} ({exc.error})") from None
    db.session.commit()
    click.echo(
        f"grant {grant.id}: user {user.id} is {role} on {grant.scope_type} {grant.scope_id or ''}"
    )


@roles_group.command("revoke")
@click.argument("user_ref", metavar="USER")
@click.argument("role", type=ROLE_CHOICE)
@click.option("--fund", type=int)
@click.option("--foundation", type=int)
def roles_revoke(user_ref: str, role: str, fund: int | None, foundation: int | None) -> None:
    """Take ROLE in a scope away from USER."""
    user = _user_or_fail(user_ref)
    role_ = Role(role)
    scope_id = _scope_id(role_, fund, foundation)
    grant = next((g for g in user.grants if g.role == role_ and g.scope_id == scope_id), None)
    if grant is None:
        raise click.ClickException(f"user {user.id} does not hold {role} there")
    if grant.scope_type == ScopeType.FUND:
        dismiss(None, db.session.get(Fund, grant.scope_id), grant.id)
    else:
        revoke_grant(grant)
    db.session.commit()
    click.echo(f"revoked: user {user.id} is no longer {role}")


@roles_group.command("list")
@click.option("--fund", type=int, help="only grants on this fund")
def roles_list(fund: int | None) -> None:
    """List role grants."""
    stmt = sa.select(RoleGrant).order_by(RoleGrant.id)
    if fund is not None:
        stmt = stmt.where(RoleGrant.scope_type == ScopeType.FUND, RoleGrant.scope_id == fund)
    grants = db.session.scalars(stmt).all()
    if not grants:
        click.echo("no grants")
    for grant in grants:
        scope = f"{grant.scope_type} {grant.scope_id}" if grant.scope_id else str(grant.scope_type)
        click.echo(f"{grant.id}\tuser {grant.user_id}\t{grant.role}\t{scope}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="run each periodic job once and stop when idle")
@click.option("--no-scheduler", is_flag=True, help="only work the queue")
@with_appcontext
def worker_command(burst: bool, no_scheduler: bool) -> None:
    """Run the worker: outbox repair, lost notifications, order closing, counter checks."""
    from backend.jobs.worker import run_worker

    run_worker(burst=burst, with_scheduler=not (burst or no_scheduler))


@click.group("progress", cls=AppGroup)
def progress_group() -> None:
    """The Redis progress counters, derived from PostgreSQL."""


@progress_group.command("check")
def progress_check() -> None:
    """Exit non-zero if any counter differs from PostgreSQL."""
    from backend.progress.service import check_counters

    differences = check_counters(repair=False)
    db.session.rollback()
    for d in differences:
        click.echo(f"{d.key}: redis {d.redis} postgresql {d.database}")
    if differences:
        raise click.ClickException(f"{len(differences)} counters differ from PostgreSQL")
    click.echo("all counters agree with PostgreSQL")


@progress_group.command("rebuild")
def progress_rebuild() -> None:
    """Rewrite every counter from PostgreSQL."""
    from backend.funds.models import Fund as FundModel
    from backend.needs.models import Need
    from backend.progress.service import rebuild_fund, rebuild_need

    need_ids = db.session.scalars(sa.select(Need.id).order_by(Need.id)).all()
    fund_ids = db.session.scalars(sa.select(FundModel.id).order_by(FundModel.id)).all()
    total = len(need_ids) + len(fund_ids)
    with click.progressbar(length=total, label="rebuilding counters") as bar:
        for need_id in need_ids:
            rebuild_need(need_id)
            db.session.commit()
            bar.update(1)
        for fund_id in fund_ids:
            rebuild_fund(fund_id)
            db.session.commit()
            bar.update(1)
    click.echo(f"rebuilt {len(need_ids)} need and {len(fund_ids)} fund counters")


@click.group("stats", cls=AppGroup)
def stats_group() -> None:
    """The month totals of the needs that the stats roll-ups read (kept by triggers)."""


@stats_group.command("check")
def stats_check() -> None:
    """Exit non-zero, naming need and month, where the month totals differ from the
    donations."""
    from backend.donations.totals import month_total_differences

    differences = month_total_differences()
    db.session.rollback()
    for d in differences:
        click.echo(
            f"need {d.need_id} {d.month:%Y-%m}: donations {d.expected_net} fen in"
            f" {d.expected_count}, kept {d.kept_net} fen in {d.kept_count}"
        )
    if differences:
        raise click.ClickException(f"{len(differences)} month totals differ from the donations")
    click.echo("every month total agrees with the donations")


@stats_group.command("rebuild")
def stats_rebuild() -> None:
    """Rewrite the month totals from the donations (payments wait for it)."""
    from backend.donations.totals import rebuild_month_totals

    click.echo("rebuilding the month totals from the donations …")
    rebuild_month_totals()
    db.session.commit()
    click.echo("month totals rebuilt")


@click.group("ledger", cls=AppGroup)
def ledger_group() -> None:
    """The sealed journal: seal pending entries, verify the chain."""


def _published_seal(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter("give SEQ:HASH, e.g. 1200:<64 hex digits>", param_hint="--expect")
    return int(seq), digest.lower()


@ledger_group.command("verify")
@click.option(
    "--expect", metavar="SEQ:HASH", help="a head published earlier: seal SEQ must carry HASH"
)
def ledger_verify(expect: str | None) -> None:
    """Recompute the chain of seals; exit 1 naming the first entry found altered, removed
    or inserted (triggers or not)."""
    from backend.ledger.sealing import head, verify

    expected = _published_seal(expect)
    total = head().entry_count
    db.session.rollback()
    with click.progressbar(length=total, label="verifying seals", file=sys.stderr) as bar:
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            bar.update(count - done)
            done = count

        result = verify(progress=advance, expect=expected)
    if result.problem is not None:
        problem = result.problem
        where = f"entry {problem.entry_id}" if problem.entry_id is not None else "journal"
        seal = f", seal {problem.seq}" if problem.seq is not None else ""
        click.echo(f"BAD {where}{seal} ({problem.kind}): {problem.message}")
        click.echo(f"the first {result.entry_count} seals are sound"
                   + (f", up to {result.head_hash}" if result.head_hash else ""))  # fmt: skip
        click.get_current_context().exit(1)
    if result.entry_count == 0:
        click.echo("OK: nothing sealed yet")
        return
    sealed_at = result.sealed_at.astimezone(BEIJING).isoformat() if result.sealed_at else "?"
    click.echo(f"OK: {result.entry_count} entries sealed, head {result.head_hash} "
               f"(sealed {sealed_at})")  # fmt: skip


@ledger_group.command("seal")
@click.option("--include-late", is_flag=True,
              help="also seal unsealed entries out of place (after checking them by hand)")  # fmt: skip
def ledger_seal(include_late: bool) -> None:
    """Seal every committed entry not sealed yet; print how many."""
    from backend.ledger.sealing import SEAL_BATCH, first_out_of_place, head, seal_pending

    sealed = 0
    while batch := seal_pending(SEAL_BATCH, sweep=True, include_late=include_late):
        db.session.commit()
        sealed += batch
    db.session.rollback()
    current, suspect = head(), first_out_of_place()
    db.session.rollback()
    click.echo(f"sealed {sealed} entries; head {current.entry_count} {current.head_hash or '-'}")
    if suspect is not None:
        click.echo(f"left unsealed: entry {suspect[0]} is out of place (see `ledger verify`)",
                   err=True)  # fmt: skip


@ledger_group.command("rebuild-totals")
def ledger_rebuild_totals() -> None:
    """Recompute the accounts' sealed totals and the pending entries from the journal."""
    from backend.ledger.sealing import rebuild_totals

    accounts = rebuild_totals()
    db.session.commit()
    click.echo(f"rebuilt the totals of {accounts} accounts")


@click.group("reconcile", cls=AppGroup, invoke_without_command=True)
@click.option("--date", "day_text", metavar="YYYY-MM-DD",
              help="the Beijing day whose WeChat Pay bill to reconcile")  # fmt: skip
@click.pass_context
@with_appcontext
def reconcile_group(ctx: click.Context, day_text: str | None) -> None:
    """Reconcile a day's WeChat Pay bill against the books: repair what can be repaired,
    store the report, exit 1 while a difference of the day is open."""
    if ctx.invoked_subcommand is not None:
        return
    if day_text is None:
        raise click.UsageError("give --date YYYY-MM-DD (or a command: resolve, export)")
    from backend.progress.service import apply_events
    from backend.reconciliation.services import open_differences, parse_day, reconcile_day

    try:
        day = parse_day(day_text)
        reconciled = reconcile_day(day, progress=lambda line: click.echo(f"  {line}", err=True))
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc.message} ({exc.error})") from None
    db.session.commit()
    # After the commit, as the worker does: repaired payments and refunds reach the counters.
    if reconciled.event_ids:
        apply_events(reconciled.event_ids)
    run = reconciled.run
    click.echo(
        f"对账 {day:%Y-%m-%d}（run {run.id}）" + ("" if run.bill_found else "：微信支付无账单")
    )
    click.echo(f"  微信支付  支付 {run.payment_count} 笔 {yuan(run.payment_fen)}，"
               f"退款 {run.refund_count} 笔 {yuan(run.refund_fen)}，"
               f"手续费 {yuan(run.fee_fen)}，净额 {yuan(run.net_fen)}")  # fmt: skip
    click.echo(f"  本系统    支付 {run.our_payment_count} 笔 {yuan(run.our_payment_fen)}")
    for d in reconciled.differences:
        amounts = " / ".join("—" if fen is None else yuan(fen) for fen in (d.wechat_fen, d.our_fen))
        order = " ".join(filter(None, (d.out_trade_no, d.out_refund_no))) or "-"
        click.echo(f"  #{d.id} [{d.status}] {d.kind} {order} 微信/本系统 {amounts}：{d.detail}")
    still_open = open_differences(day)
    db.session.rollback()
    if still_open:
        click.echo(f"{still_open} differences of {day:%Y-%m-%d} are open", err=True)
        ctx.exit(1)
    click.echo(f"{day:%Y-%m-%d}: the bill and the books agree")


@reconcile_group.command("resolve")
@click.argument("difference_id", type=int)
@click.option("--note", required=True, help="how the difference was settled")
@click.option("--user", "user_ref", metavar="USER", help="the finance officer (id or openid)")
def reconcile_resolve(difference_id: int, note: str, user_ref: str | None) -> None:
    """Resolve an open difference with a note (recorded in the audit log)."""
    from backend.reconciliation.services import resolve_difference

    actor = _user_or_fail(user_ref) if user_ref is not None else None
    note = note.strip()
    if not note:
        raise click.UsageError("--note must say how the difference was settled")
    try:
        difference = resolve_difference(actor, difference_id, note[:500])
    except DomainError as exc:
        raise click.ClickException(f"{exc.message} ({exc.error})") from None
    db.session.commit()
    click.echo(f"difference {difference.id} resolved")


@reconcile_group.command("export")
@click.option("--date", "day_text", required=True, metavar="YYYY-MM-DD")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True)
def reconcile_export(day_text: str, out: str) -> None:
    """Write the day's bill for the accounts as CSV (UTF-8 with BOM, for Excel)."""
    from backend.api.schemas.reconciliation import export_csv
    from backend.reconciliation.services import export_lines, parse_day

    try:
        lines = export_lines(parse_day(day_text))
    except DomainError as exc:
        raise click.ClickException(f"{exc.message} ({exc.error})") from None
    text = export_csv(lines)
    db.session.rollback()
    Path(out).write_bytes(text.encode("utf-8"))
    click.echo(f"{len(lines)} transactions written to {out}")
