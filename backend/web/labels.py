"""Chinese words and number formats of the public pages (Jinja filters and globals)."""

from __future__ import annotations

from datetime import date, datetime

from backend.common.money import yuan
from backend.common.time import BEIJING

STATUS_LABELS = {
    "draft": "草稿",
    "submitted": "待审核",
    "fundraising": "筹款中",
    "funded": "已筹满",
    "in_progress": "执行中",
    "completed": "已完成",
    "closed": "已关闭",
}
DISCLOSURE_LABELS = {
    "not_required": "暂无公开义务",
    "ok": "按期公开",
    "due_soon": "即将到期",
    "overdue": "已逾期",
    "final_published": "结项报告已发布",
}
UPDATE_KIND_LABELS = {"progress": "进展", "disclosure": "信息公开", "final": "结项报告"}
EVIDENCE_STAGE_LABELS = {"evidence": "票据凭证", "disbursement": "付款凭证"}
ROLE_LABELS = {"secretary": "书记", "committee": "管委会委员"}
DECISION_LABELS = {"approve": "同意", "approved": "同意", "reject": "驳回", "rejected": "驳回"}
LEVEL_LABELS = {"city": "市", "district": "区", "street": "街道", "community": "社区"}
#: a programme target's metric: its name, and whether it is money (fen)
METRIC_LABELS: dict[str, tuple[str, bool]] = {
    "fund_count": ("社区基金", False),
    "need_count": ("公开项目", False),
    "space_count": ("慈善空间", False),
    "raised_fen": ("筹款金额", True),
    "spent_fen": ("支出金额", True),
    "donation_count": ("捐赠笔数", False),
    "beneficiary_count": ("受益人数", False),
}


def label(value: object, table: dict[str, str]) -> str:
    """The Chinese word for an enum value (its own text when the table lacks it)."""
    key = getattr(value, "value", value)
    return table.get(str(key), str(key))


def beijing_time(instant: datetime | None) -> str:
    """An instant as Beijing wall-clock time to the minute: 2025-03-08 14:05."""
    return instant.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if instant else ""


def chinese_date(day: date | datetime | None) -> str:
    """A day as 2025年3月8日 (an instant is taken as its Beijing day)."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = day.astimezone(BEIJING).date()
    return f"{day.year}年{day.month}月{day.day}日"


def count(value: int) -> str:
    """A whole number with thousands separators: 12,345."""
    return f"{value:,}"


def metric_value(metric: str, value: int) -> str:
    """A target's figure as people read it: money in yuan, counts with separators."""
    money = METRIC_LABELS.get(metric, (metric, metric.endswith("_fen")))[1]
    return yuan(value) if money else count(value)


FILTERS = {
    "yuan": yuan,
    "beijing_time": beijing_time,
    "chinese_date": chinese_date,
    "count": count,
    "status_label": lambda value: label(value, STATUS_LABELS),
    "disclosure_label": lambda value: label(value, DISCLOSURE_LABELS),
    "update_kind_label": lambda value: label(value, UPDATE_KIND_LABELS),
    "stage_label": lambda value: label(value, EVIDENCE_STAGE_LABELS),
    "role_label": lambda value: label(value, ROLE_LABELS),
    "decision_label": lambda value: label(value, DECISION_LABELS),
    "level_label": lambda value: label(value, LEVEL_LABELS),
    "metric_label": lambda metric: METRIC_LABELS.get(metric, (metric, False))[0],
}
