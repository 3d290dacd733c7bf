"""Building blocks of every schema: times, references, pages, errors, plain text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma

from backend.common.text import has_control_characters
from backend.common.time import BEIJING

#: the largest id of a PostgreSQL `integer` column, and of a `bigint` one
MAX_ID = 2**31 - 1
MAX_BIGINT = 2**63 - 1
#: the largest amount any field takes (¥10 billion): far past every real figure, within bigint
MAX_AMOUNT_FEN = 10**12
MAX_LIMIT = 100
DEFAULT_LIMIT = 20


def speak_chinese() -> None:
    """Give marshmallow's field and validator messages in Chinese: the mini-program shows
    them to people beside the fields they name."""
    fields, validate = ma.fields, ma.validate
    messages: dict[type, dict[str, str]] = {
        fields.Field: {"required": "此项为必填项", "null": "此项不能为空",
                       "validator_failed": "取值无效"},
        fields.Integer: {"invalid": "须为整数"},
        fields.Number: {"invalid": "须为数字", "too_large": "数字过大"},
        fields.String: {"invalid": "须为文本", "invalid_utf8": "须为有效的 UTF-8 文本"},
        fields.Boolean: {"invalid": "须为 true 或 false"},
        fields.Date: {"invalid": "须为日期（YYYY-MM-DD）", "format": "无法按日期格式输出"},
        fields.DateTime: {"invalid": "须为 ISO 8601 时间", "invalid_awareness": "须带时区",
                          "format": "无法按时间格式输出"},
        fields.List: {"invalid": "须为列表"},
        fields.Nested: {"type": "须为对象"},
        fields.Mapping: {"invalid": "须为对象"},
        fields.Url: {"invalid": "须为有效的网址"},
        fields.Email: {"invalid": "须为有效的邮箱地址"},
    }  # fmt: skip
    for cls, texts in messages.items():
        cls.default_error_messages = {**getattr(cls, "default_error_messages", {}), **texts}
    ma.Schema._default_error_messages = {"type": "须为对象", "unknown": "不支持的字段"}
    validate.Range.message_min = "须{min_op} {{min}}"
    validate.Range.message_max = "须{max_op} {{max}}"
    validate.Range.message_all = "须{min_op} {{min}}，且{max_op} {{max}}"
    validate.Range.message_gte, validate.Range.message_gt = "不小于", "大于"
    validate.Range.message_lte, validate.Range.message_lt = "不大于", "小于"
    validate.Length.message_min = "长度不能少于 {min}"
    validate.Length.message_max = "长度不能超过 {max}"
    validate.Length.message_all = "长度须在 {min} 到 {max} 之间"
    validate.Length.message_equal = "长度须为 {equal}"
    validate.OneOf.default_message = "须为以下之一：{choices}"
    validate.URL.default_message = "须为有效的网址"
    validate.Regexp.default_message = "格式不正确"
    validate.Email.default_message = "须为有效的邮箱地址"


speak_chinese()


def plain_text(value: str) -> None:
    """Refuse control and invisible characters; line breaks are allowed."""
    if has_control_characters(value, allow_newlines=True):
        raise ma.ValidationError("不能包含控制字符或不可见字符")


def one_line(value: str) -> None:
    """Refuse line breaks, control and invisible characters."""
    if has_control_characters(value):
        raise ma.ValidationError("不能包含换行、控制字符或不可见字符")


def Id(*, strict: bool = True, **kwargs: Any) -> ma.fields.Integer:
    """An id in a body (`strict`: a JSON number) or a query: positive, within the column."""
    return ma.fields.Integer(strict=strict, validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


def Amount(minimum: int = 1, **kwargs: Any) -> ma.fields.Integer:
    """An amount in integer fen, never past `MAX_AMOUNT_FEN`."""
    return ma.fields.Integer(
        strict=True, validate=ma.validate.Range(min=minimum, max=MAX_AMOUNT_FEN), **kwargs
    )


class BeijingDateTime(ma.fields.DateTime):
    """An aware datetime written in ISO 8601 with the Beijing offset (+08:00)."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return value.astimezone(BEIJING).isoformat()


class QuerySchema(ma.Schema):
    """Query strings ignore parameters they do not know (cache busters and the like)."""

    class Meta:
        unknown = ma.EXCLUDE


class RefSchema(ma.Schema):
    """`{id, name}` of a related object."""

    id = ma.fields.Integer()
    name = ma.fields.String()


class PageArgsSchema(QuerySchema):
    """`?limit=&cursor=` of every list (unknown query parameters are ignored)."""

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


class ObjectSchema(ma.Schema):
    """A schema of objects (models, dataclasses, named tuples), never of dicts: each field is
    read with a plain `getattr` (no dotted paths, no item lookups), which halves the cost of
    a long list's serialization."""

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        return getattr(obj, attr, default)


class PageSchema(ma.Schema):
    """`{items, next_cursor}` of every list."""

    next_cursor = ma.fields.String(allow_none=True)


class ErrorSchema(ma.Schema):
    """Every error answer (documentation only: `backend.errors` renders it)."""

    code = ma.fields.Integer(metadata={"description": "HTTP status code"})
    status = ma.fields.String(metadata={"description": "HTTP status phrase"})
    error = ma.fields.String(metadata={"description": "stable snake_case identifier"})
    message = ma.fields.String(metadata={"description": "message for people, in Chinese"})
    errors = ma.fields.Dict(metadata={"description": "validation only: the bad fields"})
