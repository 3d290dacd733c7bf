"""`Idempotency-Key`: a retry with the same key and body gets the first answer again."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import sqlalchemy as sa
from flask import request

from backend.donations.models import IdempotencyKey
from backend.errors import ApiError
from backend.extensions import db

_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
#: advisory-lock class of idempotency keys: the same key's requests queue behind each other
LOCK_CLASS = 41_002


def request_key() -> str | None:
    """The request's Idempotency-Key header, validated; None when absent."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _KEY.match(key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key 格式无效",
            {"Idempotency-Key": ["8 to 128 characters of letters, digits and ._:-"]},
        )
    return key


def _body_hash() -> str:
    return hashlib.sha256(request.get_data()).hexdigest()


def replay(user_id: int, scope: str, key: str) -> tuple[int, Any] | None:
    """The first answer for this key (waiting for a concurrent first request to finish)."""
    lock_id = int.from_bytes(hashlib.sha256(f"{user_id}:{scope}:{key}".encode()).digest()[:4])
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_CLASS, lock_id - 2**31)))
    row = db.session.scalar(
        sa.select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
        )
    )
    if row is None:
        return None
    if row.request_hash != _body_hash():
        raise ApiError(409, "idempotency_key_reused", "该 Idempotency-Key 已用于另一个请求")
    return row.response_status, row.response_body


def remember(user_id: int, scope: str, key: str, status: int, body: Any) -> None:
    """Keep the answer for retries (committed with the request)."""
    db.session.add(
        IdempotencyKey(
            user_id=user_id,
            scope=scope,
            key=key,
            request_hash=_body_hash(),
            response_status=status,
            response_body=body,
        )
    )
    db.session.flush()
