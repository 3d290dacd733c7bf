"""Recording back-office actions."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa

from backend.accounts.models import User
from backend.audit.models import AuditEvent
from backend.common.origin import current_origin
from backend.common.paging import Page, keyset_page
from backend.extensions import db


def _plain(value: Any) -> Any:
    """JSON-friendly form of a field value."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for the fields whose value changed."""
    return {
        key: [_plain(before.get(key)), _plain(after[key])]
        for key in after
        if _plain(before.get(key)) != _plain(after[key])
    }


def record(
    actor: User | None,
    action: str,
    obj: Any,
    *,
    fund_id: int | None,
    changes: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """Append an event for `action` on `obj` (flushes)."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        fund_id=fund_id,
        action=action,
        object_type=obj.__tablename__.removesuffix("s") if hasattr(obj, "__tablename__") else "",
        object_id=getattr(obj, "id", None),
        changes=_plain(changes or {}),
        reason=reason,
        ip_address=current_origin().ip_address,
        request_id=current_origin().request_id,
    )
    db.session.add(event)
    db.session.flush()
    return event


def events_page(fund_id: int, limit: int, after: int | None) -> Page[AuditEvent]:
    """A fund's events, newest first."""
    stmt = sa.select(AuditEvent).where(AuditEvent.fund_id == fund_id)
    return keyset_page(stmt, AuditEvent.id, limit, after)
