"""`Idempotency-Key`: a retry with the same key and body gets the first answer again.

`@idempotent` goes between the route and smorest's decorators, so the answer it keeps is
the one the declared schema produced, and a replay is byte for byte that answer.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Response, jsonify, request

from backend.auth import login_required
from backend.common.errors import DomainError, Kind
from backend.common.models import IdempotencyKey
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
        raise DomainError(
            Kind.BAD_REQUEST,
            "invalid_idempotency_key",
            "Idempotency-Key 格式无效",
            {"Idempotency-Key": ["须为 8 到 128 个字母、数字或 ._:- 字符"]},
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
        raise DomainError(
            Kind.CONFLICT, "idempotency_key_reused", "该 Idempotency-Key 已用于另一个请求"
        )
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


#: the header, as the OpenAPI document shows it
IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "pattern": _KEY.pattern},
    "description": "a retry with the same key and body returns the first answer",
}


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Replay the first successful answer to a retry with the same key and body."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request_key()
        if key is None:
            return view(*args, **kwargs)
        user = login_required()
        scope = f"{request.method} {request.path}"
        first = replay(user.id, scope, key)
        if first is not None:
            status, body = first
            response = jsonify(body)
            response.status_code = status
            return response
        response: Response = view(*args, **kwargs)
        if response.status_code < 300:
            remember(user.id, scope, key, response.status_code, response.get_json())
        return response

    doc = wrapper.__dict__.setdefault("_apidoc", {}).setdefault("manual_doc", {})
    doc.setdefault("parameters", []).append(IDEMPOTENCY_HEADER)
    return wrapper
