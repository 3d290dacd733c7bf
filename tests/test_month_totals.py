"""The month totals the stats roll-ups read: kept by the donations' triggers in the payment's
own transaction, exact under concurrent payments, and checked and rebuilt by commands."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from backend.donations.models import Donation, DonationStatus, NeedMonthTotal
from backend.donations.totals import month_total_differences, need_sums
from backend.extensions import db
from tests.permissions import Actors
from tests.spending_support import fresh_need, give, spending_team

pytestmark = pytest.mark.usefixtures("demo", "live_server")


@pytest.fixture(scope="module")
def team(app) -> Actors:
    return spending_team(app, "MT")


@pytest.fixture(scope="module")
def donor(app) -> str:
    from tests.permissions import login

    return login(app.test_client(), "month_donor")["token"]


def kept(app, need_id: int) -> tuple[int, int]:
    with app.app_context():
        row = db.session.execute(
            sa.select(
                sa.func.sum(NeedMonthTotal.net_fen), sa.func.sum(NeedMonthTotal.counted)
            ).where(NeedMonthTotal.need_id == need_id)
        ).one()
        return int(row[0] or 0), int(row[1] or 0)


def differences(app) -> list:
    with app.app_context():
        return month_total_differences()


def test_payments_refunds_and_deletions_keep_the_totals(app, client, team, donor) -> None:
    need_id = fresh_need(client, team)
    ids = [give(app, client, donor, amount, need_id=need_id) for amount in (1_000, 2_345, 600)]
    give(app, client, donor, 777, fund_id=team.fund_id)  # the pool: no need's month
    assert kept(app, need_id) == (3_945, 3)
    with app.app_context():
        # A partial refund, then a full one (as the refund issue will write them).
        db.session.execute(
            sa.update(Donation).where(Donation.id == ids[0])
            .values(refunded_fen=400, status=DonationStatus.PARTIALLY_REFUNDED)
        )  # fmt: skip
        db.session.execute(
            sa.update(Donation).where(Donation.id == ids[2])
            .values(refunded_fen=600, status=DonationStatus.REFUNDING)
        )  # fmt: skip
        db.session.execute(
            sa.update(Donation).where(Donation.id == ids[2]).values(status=DonationStatus.REFUNDED)
        )
        db.session.commit()
        assert need_sums([need_id])[need_id] == (2_945, 2)
    assert kept(app, need_id) == (2_945, 2)
    assert differences(app) == []


def test_concurrent_payments_to_one_need_are_all_counted(app, client, team, donor) -> None:
    need_id = fresh_need(client, team)
    amounts = [100 + i for i in range(12)]
    barrier = threading.Barrier(len(amounts))
    errors: list[BaseException] = []

    def pay(amount: int) -> None:
        try:
            barrier.wait()
            give(app, app.test_client(), donor, amount, need_id=need_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=pay, args=(a,)) for a in amounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert kept(app, need_id) == (sum(amounts), len(amounts))
    assert differences(app) == []


def test_the_commands_find_a_difference_and_rebuild(app, client, team, donor) -> None:
    need_id = fresh_need(client, team)
    give(app, client, donor, 5_000, need_id=need_id)
    with app.app_context():
        db.session.execute(
            sa.update(NeedMonthTotal).where(NeedMonthTotal.need_id == need_id)
            .values(net_fen=NeedMonthTotal.net_fen + 1)
        )  # fmt: skip
        db.session.commit()
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["stats", "check"])
    assert checked.exit_code != 0
    assert f"need {need_id} " in checked.output and "donations 5000 fen" in checked.output
    rebuilt = runner.invoke(args=["stats", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert kept(app, need_id) == (5_000, 1)
    again = runner.invoke(args=["stats", "check"])
    assert again.exit_code == 0, again.output
    assert differences(app) == []
