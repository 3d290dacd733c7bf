"""Errors in the contract's JSON shape: `{code, status, error, message, errors?}`."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestURITooLarge

from backend.common.errors import DomainError, Kind

log = logging.getLogger(__name__)

# Stable identifiers and Chinese messages for the errors that carry no more specific ones.
DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "请求的资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "请求与当前状态冲突"),
    413: ("payload_too_large", "请求内容过大"),
    414: ("uri_too_long", "请求地址过长"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_failed", "请求参数有误，请检查后重试"),
    429: ("too_many_requests", "操作过于频繁，请稍后再试"),
    500: ("internal_error", "服务器开小差了，请稍后再试"),
    503: ("service_unavailable", "服务暂时不可用，请稍后再试"),
}


def error_body(
    code: int, error: str | None = None, message: str | None = None, errors: Any = None
) -> dict[str, Any]:
    """The contract's error document for an HTTP status."""
    default_error, default_message = DEFAULT_ERRORS.get(
        code, (HTTPStatus(code).phrase.lower().replace(" ", "_"), "请求无法处理")
    )
    body: dict[str, Any] = {
        "code": code,
        "status": HTTPStatus(code).phrase,
        "error": error or default_error,
        "message": message or default_message,
    }
    if errors:
        body["errors"] = errors
    return body


#: the HTTP status of each kind of domain error
KIND_STATUS: dict[Kind, int] = {
    Kind.INVALID: 422,
    Kind.BAD_REQUEST: 400,
    Kind.UNAUTHORIZED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.TOO_LARGE: 413,
    Kind.UNSUPPORTED: 415,
    Kind.TOO_MANY: 429,
    Kind.UPSTREAM: 502,
    Kind.UNAVAILABLE: 503,
}


def handle_domain_error(exc: DomainError) -> ResponseReturnValue:
    """A rule of the domain refused the request: its status, identifier and message."""
    code = KIND_STATUS[exc.kind]
    response = jsonify(error_body(code, exc.error, exc.message, exc.errors))
    response.status_code = code
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _validation_errors(exc: HTTPException) -> Any:
    """webargs puts the field messages of a failed parse on the exception's `data`."""
    data = getattr(exc, "data", None)
    if not isinstance(data, dict):
        return None
    messages = data.get("messages")
    if isinstance(messages, dict) and len(messages) == 1:
        # Collapse the location level ("query", "json") unless several were involved.
        (only,) = messages.values()
        return only
    return messages


def handle_http_exception(exc: HTTPException) -> ResponseReturnValue:
    """Render any HTTP error in the contract's shape."""
    code = exc.code or 500
    body = error_body(code, errors=_validation_errors(exc) if code in (400, 422) else None)
    custom = getattr(exc, "data", {}).get("message") if hasattr(exc, "data") else None
    if isinstance(custom, str) and code not in (400, 422):
        body["message"] = custom
    response = jsonify(body)
    response.status_code = code
    for name, value in exc.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    if code == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def handle_redis_down(exc: redis.RedisError) -> ResponseReturnValue:
    """Redis holds only derived data; where a request cannot do without it, say so: 503."""
    log.error("Redis unavailable on %s %s: %s", request.method, request.path, exc)
    response = jsonify(error_body(503, "service_unavailable", "服务暂时不可用，请稍后再试"))
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


#: what SQLAlchemy raises when PostgreSQL cannot be reached or a connection broke mid-request
DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError)


def handle_database_down(exc: sa.exc.DBAPIError) -> ResponseReturnValue:
    """PostgreSQL is down or restarting (the pool reconnects by itself): 503, try again soon.
    The request's transaction is rolled back by the boundary; nothing of it was kept."""
    log.error("database unavailable on %s %s: %s", request.method, request.path,
              (exc.orig or exc).__class__.__name__)  # fmt: skip
    response = jsonify(error_body(503, "service_unavailable", "服务暂时不可用，请稍后再试"))
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


def handle_unexpected(exc: Exception) -> ResponseReturnValue:
    """Log the failure with its traceback; answer 500 without one."""
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    if current_app.testing and current_app.config.get("PROPAGATE_UNEXPECTED", True):
        # A bug fails its test rather than hiding behind a quiet 500.
        raise exc
    log.exception("unhandled error on %s %s", request.method, request.path)
    response = jsonify(error_body(500))
    response.status_code = 500
    return response


#: the longest path and query string served; longer is a 414 in the contract's shape
MAX_URL_LENGTH = 4096


def refuse_unusable_urls() -> None:
    """Before any view: a URL too long is a 414, a NUL anywhere in the path or query a 400
    (PostgreSQL cannot store one, so it must not reach a query)."""
    if len(request.full_path) > MAX_URL_LENGTH:
        raise RequestURITooLarge()
    if "\x00" in request.path or any(
        "\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)
    ):
        raise DomainError(
            Kind.BAD_REQUEST, "invalid_characters", "请求地址含有无效字符",
            {"url": ["不能包含 NUL 字符"]},
        )  # fmt: skip


def register_error_handlers(app: Flask) -> None:
    """Answer every error, including routing errors, in the contract's shape."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(redis.RedisError, handle_redis_down)
    for database_error in DATABASE_DOWN:
        app.register_error_handler(database_error, handle_database_down)
    app.register_error_handler(Exception, handle_unexpected)
    app.before_request(refuse_unusable_urls)
