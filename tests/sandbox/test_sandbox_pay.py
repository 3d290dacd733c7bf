"""WeChat Pay v2 in the sandbox, through wechatpy's WeChatPay, with a local merchant server."""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import requests
import xmltodict
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature_hmac

from backend.wechat_sandbox import (
    DEFAULT_APPID,
    DEFAULT_MCH_ID,
    DEFAULT_PAY_KEY,
    SandboxConfig,
    SandboxServer,
)
from backend.wechat_sandbox.clock import BEIJING
from backend.wechat_sandbox.config import PAY_RETRY_SCHEDULE
from tests.sandbox.support import FAIL_XML, SUCCESS_XML, Received, Receiver, sandbox_pay

OPENID = "oSandboxPayer0000000000000001"[:28]


def new_no() -> str:
    """A fresh out_trade_no."""
    return "LS" + secrets.token_hex(8)


@dataclass
class Created:
    """An order created through wechatpy: its number and the signed answer."""

    no: str
    answer: dict


def create_order(pay: WeChatPay, notify_url: str, total_fee: int = 100, **extra: object) -> Created:
    """unifiedorder through wechatpy, JSAPI, for OPENID."""
    params: dict[str, object] = {
        "trade_type": "JSAPI",
        "body": "邻善-社区图书角",
        "total_fee": total_fee,
        "notify_url": notify_url,
        "client_ip": "127.0.0.1",
        "user_id": OPENID,
        "out_trade_no": new_no(),
        **extra,
    }
    return Created(str(params["out_trade_no"]), pay.order.create(**params))


def control(sandbox: SandboxServer, path: str, **body: object) -> requests.Response:
    """POST a control call."""
    return requests.post(sandbox.url + "sandbox/" + path, json=body, timeout=10)


def deliveries(sandbox: SandboxServer, out_trade_no: str, **filters: str) -> list[dict]:
    """The sandbox's delivery records for an order, once none is pending."""
    answer = requests.get(
        sandbox.url + f"sandbox/notifications/{out_trade_no}",
        params={"wait": "5", **filters},
        timeout=10,
    ).json()
    assert not answer["pending"]
    return answer["notifications"]


def pay_error(call: Callable[[], object]) -> WeChatPayException:
    """Run a wechatpy call expected to fail."""
    with pytest.raises(WeChatPayException) as caught:
        call()
    return caught.value


def merchant_responder(pay: WeChatPay, accept: Callable[[int], bool] = lambda index: True):
    """A merchant that verifies notices with wechatpy and answers per `accept(index)`."""

    def respond(received: Received, index: int) -> tuple[int, str]:
        try:
            received.notes["data"] = pay.parse_payment_result(received.body)
        except InvalidSignatureException:
            received.notes["bad_signature"] = True
            return 200, FAIL_XML
        return 200, SUCCESS_XML if accept(index) else FAIL_XML

    return respond


@pytest.fixture
def merchant(pay: WeChatPay, receiver: Callable[..., Receiver]) -> Receiver:
    """A merchant server that verifies and accepts every notice."""
    return receiver(merchant_responder(pay))


def test_unifiedorder_then_payment_notice_verified_by_wechatpy(
    sandbox: SandboxServer, pay: WeChatPay, merchant: Receiver
) -> None:
    order = create_order(pay, merchant.url + "pay/notify", attach="need:7")
    assert order.answer["return_code"] == order.answer["result_code"] == "SUCCESS"
    assert order.answer["prepay_id"].startswith("wx") and order.answer["trade_type"] == "JSAPI"
    assert pay.check_signature(order.answer)  # the sandbox signs its answers
    paid = control(sandbox, "pay", out_trade_no=order.no).json()["order"]
    assert paid["trade_state"] == "SUCCESS" and len(paid["transaction_id"]) == 28

    [notice] = merchant.wait_for(1)
    assert notice.path == "/pay/notify" and notice.content_type.startswith("text/xml")
    data = notice.notes["data"]
    assert data["return_code"] == data["result_code"] == "SUCCESS"
    assert (data["appid"], data["mch_id"], data["openid"]) == (
        DEFAULT_APPID,
        DEFAULT_MCH_ID,
        OPENID,
    )
    assert data["total_fee"] == data["cash_fee"] == 100
    assert data["out_trade_no"] == order.no
    assert data["transaction_id"] == paid["transaction_id"]
    assert data["attach"] == "need:7" and data["fee_type"] == "CNY"
    assert data["trade_type"] == "JSAPI" and data["is_subscribe"] == "N" and data["bank_type"]
    assert len(data["time_end"]) == 14 and data["nonce_str"]
    [record] = deliveries(sandbox, order.no)
    assert record["status"] == "succeeded" and len(record["attempts"]) == 1

    query = pay.order.query(out_trade_no=order.no)
    assert query["trade_state"] == "SUCCESS" and query["transaction_id"] == data["transaction_id"]
    assert query["time_end"] == data["time_end"] and query["openid"] == OPENID
    assert query["total_fee"] == query["cash_fee"] == "100"
    assert pay.order.query(transaction_id=data["transaction_id"])["out_trade_no"] == order.no


def test_same_out_trade_no_again(
    sandbox: SandboxServer, pay: WeChatPay, merchant: Receiver
) -> None:
    first = create_order(pay, merchant.url)
    again = create_order(pay, merchant.url, out_trade_no=first.no)
    assert again.answer["prepay_id"] == first.answer["prepay_id"]
    changed = pay_error(lambda: create_order(pay, merchant.url, 200, out_trade_no=first.no))
    assert (changed.errcode, changed.errmsg) == ("INVALID_REQUEST", "201 商户订单号重复")
    control(sandbox, "pay", out_trade_no=first.no)
    paid = pay_error(lambda: create_order(pay, merchant.url, out_trade_no=first.no))
    assert paid.errcode == "ORDERPAID"


@pytest.mark.parametrize(
    ("extra", "err_code"),
    [
        ({"user_id": None}, "LACK_PARAMS"),
        ({"body": "长" * 43}, "INVALID_REQUEST"),
        ({"total_fee": 0}, "LACK_PARAMS"),  # wechatpy leaves falsy values out
        ({"total_fee": -5}, "INVALID_REQUEST"),
        ({"total_fee": "1.5"}, "INVALID_REQUEST"),
        ({"out_trade_no": "x" * 33}, "INVALID_REQUEST"),
        ({"notify_url": "http://127.0.0.1/notify?x=1"}, "INVALID_REQUEST"),
        ({"time_expire": datetime.now(BEIJING) + timedelta(minutes=2)}, "INVALID_REQUEST"),
    ],
)
def test_unifiedorder_field_rules(pay: WeChatPay, extra: dict, err_code: str) -> None:
    params = {"notify_url": "http://127.0.0.1:9/notify", **extra}
    error = pay_error(lambda: create_order(pay, **params))
    assert error.return_code == "SUCCESS" and error.result_code == "FAIL"
    assert error.errcode == err_code


def test_bad_signature_and_credentials_are_refused(sandbox: SandboxServer) -> None:
    wrong_key = sandbox_pay(sandbox.url, DEFAULT_APPID, "w" * 32, DEFAULT_MCH_ID)
    wrong_mch = sandbox_pay(sandbox.url, DEFAULT_APPID, DEFAULT_PAY_KEY, "1900000000")
    wrong_app = sandbox_pay(sandbox.url, "wxnotmyapp", DEFAULT_PAY_KEY, DEFAULT_MCH_ID)
    try:
        error = pay_error(lambda: create_order(wrong_key, "http://127.0.0.1:9/n"))
        assert (error.return_code, error.return_msg) == ("FAIL", "签名错误")
        assert (
            pay_error(lambda: create_order(wrong_mch, "http://127.0.0.1:9/n")).return_code == "FAIL"
        )
        assert pay_error(lambda: create_order(wrong_app, "http://127.0.0.1:9/n")).errcode == (
            "APPID_MCHID_NOT_MATCH"
        )
    finally:
        for client in (wrong_key, wrong_mch, wrong_app):
            client._http.close()
    entity = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><xml><mch_id>&a;</mch_id></xml>'
    answer = requests.post(sandbox.url + "pay/unifiedorder", data=entity, timeout=5)
    assert xmltodict.parse(answer.text)["xml"]["return_msg"] == "XML格式错误"


def test_hmac_sha256_orders_are_answered_and_notified_in_hmac(
    sandbox: SandboxServer, pay: WeChatPay, receiver: Callable[..., Receiver]
) -> None:
    merchant = receiver()
    order = create_order(pay, merchant.url, sign_type="HMAC-SHA256")
    answer = dict(order.answer)
    sign = answer.pop("sign")
    assert sign == calculate_signature_hmac(answer, DEFAULT_PAY_KEY)
    control(sandbox, "pay", out_trade_no=order.no)
    notice = dict(xmltodict.parse(merchant.wait_for(1)[0].body)["xml"])
    sign = notice.pop("sign")
    assert notice["sign_type"] == "HMAC-SHA256"
    assert sign == calculate_signature_hmac(notice, DEFAULT_PAY_KEY)


def test_retries_follow_wechat_schedule_until_success(
    pay: WeChatPay, receiver: Callable[..., Receiver]
) -> None:
    factor = 1000.0  # 15 s -> 15 ms: slow enough to measure the gaps
    merchant = receiver(merchant_responder(pay, accept=lambda index: index >= 4))
    with SandboxServer(SandboxConfig(time_factor=factor)) as sandbox:
        pay.API_BASE_URL = sandbox.url
        order = create_order(pay, merchant.url)
        control(sandbox, "pay", out_trade_no=order.no)
        [record] = deliveries(sandbox, order.no)
    attempts = record["attempts"]
    assert record["status"] == "succeeded"
    assert [a["answer_ok"] for a in attempts] == [False, False, False, False, True]
    expected = [0.0, *(gap / factor for gap in PAY_RETRY_SCHEDULE[:4])]
    assert [a["delay_seconds"] for a in attempts] == pytest.approx(expected)
    arrivals = [r.at for r in merchant.received]
    assert len(arrivals) == 5
    for gap, (earlier, later) in zip(expected[1:], itertools.pairwise(arrivals), strict=True):
        assert later - earlier >= gap * 0.9


def test_gives_up_after_the_whole_schedule(
    sandbox: SandboxServer, pay: WeChatPay, receiver: Callable[..., Receiver]
) -> None:
    answers = {0: (500, "oops"), 1: (200, "not xml")}
    merchant = receiver(lambda received, index: answers.get(index, (200, FAIL_XML)))
    order = create_order(pay, merchant.url)
    control(sandbox, "pay", out_trade_no=order.no)
    [record] = deliveries(sandbox, order.no)
    assert record["status"] == "gave_up"
    assert len(record["attempts"]) == len(merchant.received) == 1 + len(PAY_RETRY_SCHEDULE)
    assert record["attempts"][0]["status_code"] == 500


def test_unreachable_merchant_is_recorded(sandbox: SandboxServer, pay: WeChatPay) -> None:
    order = create_order(pay, "http://127.0.0.1:9/notify")
    control(sandbox, "pay", out_trade_no=order.no)
    [record] = deliveries(sandbox, order.no)
    assert record["status"] == "gave_up"
    assert all(a["error"] and a["status_code"] is None for a in record["attempts"])


def test_duplicates_arrive_after_success(
    sandbox: SandboxServer, pay: WeChatPay, merchant: Receiver
) -> None:
    order = create_order(pay, merchant.url)
    control(sandbox, "pay", out_trade_no=order.no, duplicates=3)
    [record] = deliveries(sandbox, order.no)
    assert [a["kind"] for a in record["attempts"]] == [
        "attempt",
        "duplicate",
        "duplicate",
        "duplicate",
    ]
    notices = merchant.wait_for(4)
    assert len({n.notes["data"]["transaction_id"] for n in notices}) == 1


def test_concurrent_copies_arrive_at_once(
    sandbox: SandboxServer, pay: WeChatPay, receiver: Callable[..., Receiver]
) -> None:
    copies = 5
    together = threading.Barrier(copies, timeout=3)

    def respond(received: Received, index: int) -> tuple[int, str]:
        pay.parse_payment_result(received.body)
        try:
            together.wait()  # passes only if all copies are being handled at the same time
        except threading.BrokenBarrierError:
            return 200, FAIL_XML
        return 200, SUCCESS_XML

    merchant = receiver(respond)
    order = create_order(pay, merchant.url)
    control(sandbox, "pay", out_trade_no=order.no, duplicates=copies - 1, concurrent=True)
    [record] = deliveries(sandbox, order.no)
    assert record["status"] == "succeeded"
    assert len(record["attempts"]) == copies
    assert all(a["answer_ok"] for a in record["attempts"])


def test_lost_answers_make_wechat_send_again(
    sandbox: SandboxServer, pay: WeChatPay, merchant: Receiver
) -> None:
    order = create_order(pay, merchant.url)
    control(sandbox, "pay", out_trade_no=order.no, respond_fail_times=2)
    [record] = deliveries(sandbox, order.no)
    assert [a["ignored"] for a in record["attempts"]] == [True, True, False]
    assert all(a["answer_ok"] for a in record["attempts"])
    assert len(merchant.received) == 3


def test_forged_and_failed_notices(
    sandbox: SandboxServer, pay: WeChatPay, merchant: Receiver
) -> None:
    order = create_order(pay, merchant.url, total_fee=500)
    no = order.no
    control(sandbox, "pay", out_trade_no=no, fail="signature")
    [forged] = merchant.wait_for(1)
    assert forged.notes["bad_signature"]
    control(sandbox, "pay", out_trade_no=no, fail="amount")
    amount = merchant.wait_for(2)[1].notes["data"]  # signed right, amount wrong
    assert amount["total_fee"] != 500
    control(sandbox, "pay", out_trade_no=no, fail="result")
    failed = merchant.wait_for(3)[2].notes["data"]
    assert failed["result_code"] == "FAIL" and failed["err_code"]
    records = deliveries(sandbox, no)
    assert [len(r["attempts"]) for r in records] == [1, 1, 1]
    assert pay.order.query(out_trade_no=no)["trade_state"] == "NOTPAY"
    control(sandbox, "pay", out_trade_no=no)
    assert merchant.wait_for(4)[3].notes["data"]["total_fee"] == 500
    assert pay.order.query(out_trade_no=no)["trade_state"] == "SUCCESS"


def test_pay_control_refusals(sandbox: SandboxServer, pay: WeChatPay, merchant: Receiver) -> None:
    assert control(sandbox, "pay", out_trade_no="nope").status_code == 404
    assert control(sandbox, "pay").status_code == 400
    order = create_order(pay, merchant.url)
    assert control(sandbox, "pay", out_trade_no=order.no, fail="maybe").status_code == 400
    assert control(sandbox, "pay", out_trade_no=order.no).status_code == 200
    assert control(sandbox, "pay", out_trade_no=order.no).status_code == 409


def test_closeorder_waits_five_minutes(
    sandbox: SandboxServer, pay: WeChatPay, merchant: Receiver
) -> None:
    order = create_order(pay, merchant.url)
    no = order.no
    assert pay.order.query(out_trade_no=no)["trade_state"] == "NOTPAY"
    early = pay_error(lambda: pay.order.close(no))
    assert early.errcode == "SYSTEMERROR" and "5分钟" in early.errmsg
    control(sandbox, "clock", advance_seconds=301)
    assert pay.order.close(no)["result_code"] == "SUCCESS"
    assert pay.order.query(out_trade_no=no)["trade_state"] == "CLOSED"
    assert pay_error(lambda: pay.order.close(no)).errcode == "ORDERCLOSED"
    assert control(sandbox, "pay", out_trade_no=no).status_code == 409
    assert (
        pay_error(lambda: create_order(pay, merchant.url, out_trade_no=no)).errcode == "ORDERCLOSED"
    )
    assert pay_error(lambda: pay.order.query(out_trade_no="unknown1")).errcode == "ORDERNOTEXIST"


def test_time_expire_is_honoured(
    sandbox: SandboxServer, pay: WeChatPay, merchant: Receiver
) -> None:
    expire = datetime.now(BEIJING) + timedelta(minutes=6)
    order = create_order(pay, merchant.url, time_expire=expire)
    control(sandbox, "clock", advance_seconds=7 * 60)
    refused = control(sandbox, "pay", out_trade_no=order.no)
    assert refused.status_code == 409 and "EXPIRED" in refused.json()["error"]
    assert pay.order.query(out_trade_no=order.no)["trade_state"] == "NOTPAY"
    assert pay.order.close(order.no)["result_code"] == "SUCCESS"


def decrypt_req_info(req_info: str, api_key: str) -> dict:
    """Independent decryption: AES-256-ECB, key md5(api_key) hex, PKCS#7."""
    key = hashlib.md5(api_key.encode()).hexdigest().encode()  # noqa: S324 - WeChat's protocol
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()  # noqa: S305 - WeChat's
    plain = decryptor.update(base64.b64decode(req_info)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    return dict(xmltodict.parse(plain.decode())["root"])


@pytest.fixture
def paid_order(sandbox: SandboxServer, pay: WeChatPay, merchant: Receiver) -> dict:
    """A paid order of 100 fen whose payment notice was accepted."""
    order = create_order(pay, merchant.url + "pay")
    control(sandbox, "pay", out_trade_no=order.no)
    deliveries(sandbox, order.no)
    return pay.order.query(out_trade_no=order.no)


def test_refund_and_its_encrypted_notice(
    sandbox: SandboxServer,
    pay: WeChatPay,
    paid_order: dict,
    receiver: Callable[..., Receiver],
) -> None:
    def respond(received: Received, index: int) -> tuple[int, str]:
        received.notes["data"] = pay.parse_refund_notify_result(received.body)
        return 200, SUCCESS_XML

    refunds = receiver(respond)
    no = paid_order["out_trade_no"]
    answer = pay.refund.apply(
        100, 30, "RF" + no, out_trade_no=no, notify_url=refunds.url + "refund"
    )
    assert answer["result_code"] == "SUCCESS" and answer["refund_fee"] == "30"
    assert len(answer["refund_id"]) == 29 and pay.check_signature(answer)

    [notice] = refunds.wait_for(1)
    envelope = xmltodict.parse(notice.body)["xml"]
    assert "sign" not in envelope and envelope["return_code"] == "SUCCESS"
    plain = decrypt_req_info(envelope["req_info"], DEFAULT_PAY_KEY)
    assert plain == {
        **plain,
        "out_refund_no": "RF" + no,
        "out_trade_no": no,
        "refund_id": answer["refund_id"],
        "transaction_id": paid_order["transaction_id"],
        "refund_fee": "30",
        "settlement_refund_fee": "30",
        "total_fee": "100",
        "refund_status": "SUCCESS",
        "refund_request_source": "API",
    }
    assert plain["success_time"] and plain["refund_recv_accout"] and plain["refund_account"]
    assert notice.notes["data"]["refund_fee"] == 30  # wechatpy's own decryption agrees

    query = pay.refund.query(out_trade_no=no)
    assert query["refund_count"] == "1" and query["refund_status_0"] == "SUCCESS"
    assert query["out_refund_no_0"] == "RF" + no and query["refund_success_time_0"]
    assert pay.order.query(out_trade_no=no)["trade_state"] == "REFUND"

    same = pay.refund.apply(100, 30, "RF" + no, out_trade_no=no)
    assert same["refund_id"] == answer["refund_id"]
    assert len(deliveries(sandbox, no, kind="refund")) == 1


def test_refund_amount_rules(
    sandbox: SandboxServer, pay: WeChatPay, paid_order: dict, merchant: Receiver
) -> None:
    no = paid_order["out_trade_no"]
    assert (
        pay_error(lambda: pay.refund.apply(100, 101, "R1" + no, out_trade_no=no)).errcode == "ERROR"
    )
    assert (
        pay_error(lambda: pay.refund.apply(99, 10, "R1" + no, out_trade_no=no)).errcode
        == "PARAM_ERROR"
    )
    assert (
        pay_error(lambda: pay.refund.apply(100, -1, "R1" + no, out_trade_no=no)).errcode
        == "PARAM_ERROR"
    )
    pay.refund.apply(100, 60, "R1" + no, out_trade_no=no)
    over = pay_error(lambda: pay.refund.apply(100, 41, "R2" + no, out_trade_no=no))
    assert (over.errcode, over.errmsg) == ("ERROR", "累计退款金额大于支付金额")
    changed = pay_error(lambda: pay.refund.apply(100, 50, "R1" + no, out_trade_no=no))
    assert changed.errcode == "PARAM_ERROR"
    pay.refund.apply(100, 40, "R2" + no, transaction_id=paid_order["transaction_id"])
    assert (
        pay_error(lambda: pay.refund.apply(100, 1, "R3" + no, out_trade_no=no)).errmsg
        == "订单已全额退款"
    )
    # Without a notify_url of their own, refund notices go to the order's notify_url.
    records = deliveries(sandbox, no, kind="refund")
    assert [r["url"] for r in records] == [merchant.url + "pay"] * 2
    assert pay.refund.query(out_trade_no=no)["refund_count"] == "2"
    assert pay_error(lambda: pay.refund.query(out_refund_no="nothing")).errcode == "REFUNDNOTEXIST"
    unpaid = create_order(pay, merchant.url)
    refused = pay_error(lambda: pay.refund.apply(100, 1, "R4" + no, out_trade_no=unpaid.no))
    assert refused.errcode == "ERROR"


def test_downloadbill(
    sandbox: SandboxServer, pay: WeChatPay, paid_order: dict, merchant: Receiver
) -> None:
    second = create_order(pay, merchant.url, total_fee=250, attach="need:9")
    control(sandbox, "pay", out_trade_no=second.no)
    pay.refund.apply(
        100, 100, "RB" + paid_order["out_trade_no"], out_trade_no=paid_order["out_trade_no"]
    )
    today = datetime.fromisoformat(
        requests.get(sandbox.url + "sandbox/clock", timeout=5).json()["beijing"]
    ).date()

    text = pay.tools.download_bill(today)
    lines = text.rstrip("\r\n").split("\r\n")
    assert lines[0].startswith("交易时间,公众账号ID,商户号")
    rows = lines[1:-2]
    assert len(rows) == 3 and all(row.startswith("`") for row in rows)
    assert any(paid_order["transaction_id"] in row and "`SUCCESS" in row for row in rows)
    assert any("`REFUND" in row and "`RB" + paid_order["out_trade_no"] in row for row in rows)
    assert lines[-2].startswith("总交易单数,")
    assert lines[-1].split(",")[:3] == ["`3", "`3.50", "`1.00"]
    success_only = pay.tools.download_bill(today, bill_type="SUCCESS").rstrip("\r\n").split("\r\n")
    assert len(success_only) == 1 + 2 + 2 and "`REFUND" not in "".join(success_only)
    assert "`REFUND" in pay.tools.download_bill(today, bill_type="REFUND")

    empty = pay_error(lambda: pay.tools.download_bill(today - timedelta(days=1)))
    assert (empty.return_code, empty.return_msg) == ("FAIL", "No Bill Exist")
    future = pay_error(lambda: pay.tools.download_bill(today + timedelta(days=1)))
    assert (future.return_code, future.return_msg) == ("FAIL", "invalid bill_date")
    wrong = pay_error(lambda: pay.tools.download_bill(today, bill_type="EVERYTHING"))
    assert wrong.return_msg == "invalid bill_type"


def test_reset_forgets_everything(
    sandbox: SandboxServer, pay: WeChatPay, merchant: Receiver
) -> None:
    order = create_order(pay, merchant.url)
    control(sandbox, "clock", advance_seconds=3600)
    assert control(sandbox, "reset").json() == {"status": "reset"}
    assert pay_error(lambda: pay.order.query(out_trade_no=order.no)).errcode == "ORDERNOTEXIST"
    assert abs(requests.get(sandbox.url + "sandbox/clock", timeout=5).json()["offset_seconds"]) < 1
