"""The smorest `Api` and `Blueprint`, request parsing that no input can break, id routes,
and the keyset pagination shared by every list."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import flask_smorest as smorest
from flask import Request
from flask_smorest import Api
from itsdangerous import BadSignature, SignatureExpired
from marshmallow import missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.routing import IntegerConverter, Map

from backend.api.schemas.base import MAX_BIGINT, MAX_ID, ErrorSchema
from backend.common.errors import DomainError, Kind
from backend.common.paging import Page
from backend.common.signing import timed_serializer
from backend.errors import handle_http_exception

CURSOR_MAX_AGE_SECONDS = 24 * 3600


class IdConverter(IntegerConverter):
    """`<int:…>` in a route: a positive PostgreSQL `integer`; anything else matches no route
    (a 404), so an id past the column's range never reaches the database."""

    def __init__(self, url_map: Map, maximum: int = MAX_ID) -> None:
        super().__init__(url_map, min=1, max=maximum)


class BigIdConverter(IdConverter):
    """`<bigid:…>`: a positive PostgreSQL `bigint` (donations and other long tables)."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, MAX_BIGINT)


def id_param_schema(converter: IdConverter) -> dict[str, Any]:
    """How an id path parameter reads in the OpenAPI document."""
    return {"type": "integer", "minimum": 1, "maximum": converter.max}


class LinshanParser(FlaskParser):
    """webargs' parser with JSON bodies that cannot break it: too deep, numbers too long,
    NUL characters (PostgreSQL refuses them) are a 400 in the contract's shape."""

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            return missing
        try:
            data = json.loads(req.get_data(cache=True).decode("utf-8"))
        except (ValueError, RecursionError, UnicodeDecodeError):
            # JSONDecodeError and over-long integers are ValueErrors; deep nesting recurses.
            raise invalid_json() from None
        if _holds_nul(data):
            raise DomainError(Kind.BAD_REQUEST, "invalid_characters", "请求内容含有无效字符",
                              {"json": ["不能包含 NUL 字符"]})  # fmt: skip
        return data

    def _handle_invalid_json_error(
        self, error: Any, req: Request, *args: Any, **kwargs: Any
    ) -> Any:
        raise invalid_json()


def invalid_json() -> DomainError:
    """The answer to a body that is not the JSON it claims to be."""
    return DomainError(Kind.BAD_REQUEST, "invalid_json", "请求体不是有效的 JSON",
                       {"json": ["请求体不是有效的 JSON"]})  # fmt: skip


def _holds_nul(value: Any) -> bool:
    """Whether a parsed JSON document holds a NUL character in any key or string."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class Blueprint(smorest.Blueprint):
    """Every blueprint of the API: smorest's, parsing with `LinshanParser`."""

    ARGUMENTS_PARSER = LinshanParser()


class LinshanApi(Api):
    """flask-smorest `Api` that documents and renders errors in the contract's shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: Any) -> Any:
        """Render HTTP errors raised under the API like every other error of the app."""
        return handle_http_exception(error)


def _filters_digest(filters: dict[str, Any]) -> str:
    raw = json.dumps(filters, sort_keys=True, default=str, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:9]).decode()


def encode_cursor(kind: str, key: list[Any], filters: dict[str, Any]) -> str:
    """Sign the sort key of the last row together with the filters it belongs to."""
    return timed_serializer(f"cursor:{kind}").dumps({"k": key, "f": _filters_digest(filters)})


def invalid_cursor() -> DomainError:
    """The answer to a cursor that is not one of ours."""
    return DomainError(
        Kind.BAD_REQUEST, "invalid_cursor", "翻页参数无效", {"cursor": ["翻页参数无效"]}
    )


def decode_cursor(kind: str, cursor: str, filters: dict[str, Any]) -> list[Any]:
    """The sort key inside a cursor; a forged, expired or foreign cursor is a 400."""
    try:
        data = timed_serializer(f"cursor:{kind}").loads(cursor, max_age=CURSOR_MAX_AGE_SECONDS)
    except SignatureExpired:
        raise DomainError(
            Kind.BAD_REQUEST,
            "cursor_expired",
            "翻页位置已过期，请从第一页重新加载",
            {"cursor": ["翻页位置已过期"]},
        ) from None
    except BadSignature:
        raise invalid_cursor() from None
    if not isinstance(data, dict) or not isinstance(data.get("k"), list):
        raise invalid_cursor()
    if data.get("f") != _filters_digest(filters):
        raise DomainError(
            Kind.BAD_REQUEST,
            "cursor_mismatch",
            "筛选条件已变化，请从第一页重新加载",
            {"cursor": ["与当前筛选条件不符"]},
        )
    return data["k"]


def decode_id_cursor(kind: str, cursor: str | None, filters: dict[str, Any]) -> int | None:
    """The id inside a cursor of a list ordered by id (None without a cursor)."""
    if not cursor:
        return None
    key = decode_cursor(kind, cursor, filters)
    if len(key) != 1 or not isinstance(key[0], int) or not 0 < key[0] <= MAX_BIGINT:
        raise invalid_cursor()
    return key[0]


def id_page(
    kind: str, cursor: str | None, filters: dict[str, Any], fetch: Callable[[int | None], Page[Any]]
) -> dict[str, Any]:
    """`{items, next_cursor}` of a list read by id: the cursor decoded, `fetch` called with
    the id to continue after, the next cursor signed with the same filters."""
    page = fetch(decode_id_cursor(kind, cursor, filters))
    next_cursor = None
    if page.more and page.items:
        next_cursor = encode_cursor(kind, [page.items[-1].id], filters)
    return {"items": page.items, "next_cursor": next_cursor}
