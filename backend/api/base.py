"""The smorest `Api`, its error schema, and the pagination shared by list endpoints."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import marshmallow as ma
from flask_smorest import Api
from itsdangerous import BadSignature, SignatureExpired

from backend.common.signing import timed_serializer
from backend.errors import ApiError, handle_http_exception

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
CURSOR_MAX_AGE_SECONDS = 24 * 3600


class ErrorSchema(ma.Schema):
    """Every error answer (documentation only: `backend.errors` renders it)."""

    code = ma.fields.Integer(metadata={"description": "HTTP status code"})
    status = ma.fields.String(metadata={"description": "HTTP status phrase"})
    error = ma.fields.String(metadata={"description": "stable snake_case identifier"})
    message = ma.fields.String(metadata={"description": "message for people, in Chinese"})
    errors = ma.fields.Dict(metadata={"description": "validation only: the bad fields"})


class LinshanApi(Api):
    """flask-smorest `Api` that documents and renders errors in the contract's shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: Any) -> Any:
        """Render HTTP errors raised under the API like every other error of the app."""
        return handle_http_exception(error)


class PageArgsSchema(ma.Schema):
    """`?limit=&cursor=` of every list (unknown query parameters are ignored)."""

    class Meta:
        unknown = ma.EXCLUDE

    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=ma.validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"page size, 1 to {MAX_LIMIT}"},
    )
    cursor = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=512),
        metadata={"description": "opaque cursor from the previous page's `next_cursor`"},
    )


def _filters_digest(filters: dict[str, Any]) -> str:
    raw = json.dumps(filters, sort_keys=True, default=str, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:9]).decode()


def encode_cursor(kind: str, key: list[Any], filters: dict[str, Any]) -> str:
    """Sign the sort key of the last row together with the filters it belongs to."""
    return timed_serializer(f"cursor:{kind}").dumps({"k": key, "f": _filters_digest(filters)})


def decode_cursor(kind: str, cursor: str, filters: dict[str, Any]) -> list[Any]:
    """The sort key inside a cursor; a forged, expired or foreign cursor is a 400."""
    try:
        data = timed_serializer(f"cursor:{kind}").loads(cursor, max_age=CURSOR_MAX_AGE_SECONDS)
    except SignatureExpired:
        raise ApiError(
            400, "cursor_expired", "翻页位置已过期，请从第一页重新加载", {"cursor": ["expired"]}
        ) from None
    except BadSignature:
        raise ApiError(400, "invalid_cursor", "翻页参数无效", {"cursor": ["invalid"]}) from None
    if not isinstance(data, dict) or not isinstance(data.get("k"), list):
        raise ApiError(400, "invalid_cursor", "翻页参数无效", {"cursor": ["invalid"]})
    if data.get("f") != _filters_digest(filters):
        raise ApiError(
            400,
            "cursor_mismatch",
            "筛选条件已变化，请从第一页重新加载",
            {"cursor": ["does not belong to these filters"]},
        )
    return data["k"]


def decode_id_cursor(kind: str, cursor: str | None, filters: dict[str, Any]) -> int | None:
    """The id inside a cursor of a list ordered by id (None without a cursor)."""
    if not cursor:
        return None
    key = decode_cursor(kind, cursor, filters)
    if len(key) != 1 or not isinstance(key[0], int):
        raise ApiError(400, "invalid_cursor", "翻页参数无效", {"cursor": ["invalid"]})
    return key[0]
