"""The worker process: `flask --app backend worker` runs the jobs on RQ."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from backend.common.time import utcnow
from backend.donations.models import Donation
from backend.donations.services import apply_payment
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.models import Need, NeedCategory, NeedStatus
from backend.payments.wechat_pay import parse_notification
from backend.progress.models import OutboxEvent
from tests.payments_support import notification, to_xml
from tests.permissions import login


@pytest.mark.usefixtures("demo", "live_server")
def test_the_worker_applies_what_a_crash_left_behind(app, test_environ, project_root) -> None:
    client = app.test_client()
    token = login(client, "worker_donor")["token"]
    with app.app_context():
        fund = db.session.scalar(sa.select(Fund).order_by(Fund.id))
        need = Need(fund=fund, region_id=fund.region_id, category=NeedCategory.ELDERLY,
                    title="工作进程测试", story="工作进程测试用的项目。", goal_fen=10**7,
                    status=NeedStatus.FUNDRAISING, published_at=utcnow())  # fmt: skip
        db.session.add(need)
        db.session.commit()
        need_id = need.id
    order = client.post("/api/v1/donations", json={"need_id": need_id, "amount_fen": 6600},
                        headers={"Authorization": f"Bearer {token}"}).get_json()  # fmt: skip
    with app.app_context():
        notice = parse_notification(to_xml(notification(order["out_trade_no"], 6600)),
                                    app.config["SETTINGS"])  # fmt: skip
        assert apply_payment(notice).applied
        db.session.commit()  # ...and the process dies before Redis hears of it
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend", "worker", "--burst"],
        env={**os.environ, **test_environ}, cwd=project_root, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with app.app_context():
        left = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.applied_at.is_(None))
        )
        assert left == 0
        assert (
            db.session.scalar(sa.select(Donation.status).where(Donation.id == order["id"]))
            == "paid"
        )
    progress = client.get(f"/api/v1/needs/{need_id}/progress").get_json()
    assert (progress["raised_fen"], progress["donation_count"]) == (6600, 1)
