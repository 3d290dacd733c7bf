"""v3 trade bill: `/v3/bill/tradebill` answers a download_url and the file's SHA1.

The file is the text v2's downloadbill serves (rendered by `backend.wechat_sandbox.bill`),
gzipped with tar_type GZIP, kept under a random token until the sandbox is reset.
Downloading it is a signed GET like any v3 call; the file itself is not signed, as
WeChat's is not. Errors: malformed bill_date or bill_type 400 PARAM_ERROR; a day after
today (Beijing) 400 INVALID_REQUEST; a day without transactions 400 NO_STATEMENT_EXIST
"要下载的账单不存在"; an unknown token 404 RESOURCE_NOT_EXISTS.
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
from datetime import date
from typing import Any

from flask import Blueprint, Response, request

from backend.wechat_sandbox import bill
from backend.wechat_sandbox.runtime import Sandbox
from backend.wechat_sandbox.v3.proto import V3Error, V3Request, param_error, v3_endpoint

bp = Blueprint("sandbox_v3_bill", __name__, url_prefix="/v3")

BILL_TYPES = (bill.ALL, bill.SUCCESS, bill.REFUND)
TAR_TYPES = ("GZIP",)


def _bill_date(text: str) -> date:
    """`YYYY-MM-DD`."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise param_error("bill_date参数格式错误") from exc


@bp.get("/bill/tradebill")
@v3_endpoint
def trade_bill(sandbox: Sandbox, req: V3Request) -> tuple[int, dict[str, Any]]:
    """申请交易账单: hash and download_url of the day's bill file."""
    day = _bill_date(request.args.get("bill_date", ""))
    bill_type = request.args.get("bill_type") or bill.ALL
    if bill_type not in BILL_TYPES:
        raise param_error("bill_type参数格式错误")
    tar_type = request.args.get("tar_type") or ""
    if tar_type and tar_type not in TAR_TYPES:
        raise param_error("tar_type参数格式错误")
    if day > sandbox.clock.beijing_now().date():
        raise V3Error(400, "INVALID_REQUEST", "账单日期不能晚于今天")
    with sandbox.state.lock:
        text = bill.render_bill(list(sandbox.state.orders.values()), day, bill_type)
        if text is None:
            raise V3Error(400, "NO_STATEMENT_EXIST", "要下载的账单不存在")
        data = text.encode("utf-8")
        if tar_type == "GZIP":
            data = gzip.compress(data, mtime=0)
        token = secrets.token_urlsafe(24)
        sandbox.state.bills[token] = data
    return 200, {
        "hash_type": "SHA1",
        "hash_value": hashlib.sha1(data).hexdigest(),  # noqa: S324 - WeChat's choice
        "download_url": request.url_root + "v3/billdownload/file?token=" + token,
    }


@bp.get("/billdownload/file")
@v3_endpoint
def download(sandbox: Sandbox, req: V3Request) -> Response:
    """下载账单: the stored file, unsigned."""
    with sandbox.state.lock:
        data = sandbox.state.bills.get(request.args.get("token", ""))
    if data is None:
        raise V3Error(404, "RESOURCE_NOT_EXISTS", "账单文件不存在或已过期")
    gzipped = data[:2] == b"\x1f\x8b"
    return Response(data, mimetype="application/x-gzip" if gzipped else "text/plain")
