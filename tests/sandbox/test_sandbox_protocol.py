"""Signing, XML handling and configuration of the sandbox, against WeChat's documents."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from wechatpy.pay.utils import calculate_signature_hmac

from backend.wechat_sandbox import DEFAULT_PAY_KEY, SandboxConfig, signing
from backend.wechat_sandbox.xmlio import XmlRejected, parse_flat_xml, to_flat_xml

# The example of WeChat Pay's "安全规范" page.
DOC_PARAMS = {
    "appid": "wxd930ea5d5a258f4f",
    "mch_id": "10000100",
    "device_info": "1000",
    "body": "test",
    "nonce_str": "ibuaiVcKdpRxkhJA",
}
DOC_KEY = "192006250b4c09247ec02edce69f6a2d"


def test_documented_md5_example() -> None:
    assert signing.string_to_sign(DOC_PARAMS, DOC_KEY) == (
        "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100"
        "&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d"
    )
    assert signing.sign(DOC_PARAMS, DOC_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_hmac_sha256_is_keyed_with_the_api_key() -> None:
    message = signing.string_to_sign(DOC_PARAMS, DOC_KEY).encode()
    expected = hmac.new(DOC_KEY.encode(), message, hashlib.sha256).hexdigest().upper()
    assert signing.sign(DOC_PARAMS, DOC_KEY, signing.HMAC_SHA256) == expected
    assert expected == calculate_signature_hmac(DOC_PARAMS, DOC_KEY)


def test_empty_values_and_sign_are_left_out() -> None:
    with_extras = {**DOC_PARAMS, "attach": "", "sign": "WHATEVER"}
    assert signing.sign(with_extras, DOC_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_verify_follows_sign_type_and_rejects_tampering() -> None:
    params = {**DOC_PARAMS, "sign_type": "HMAC-SHA256"}
    params["sign"] = signing.sign(params, DOC_KEY, signing.HMAC_SHA256)
    assert signing.verify(params, DOC_KEY)
    assert not signing.verify({**params, "body": "tampered"}, DOC_KEY)
    assert not signing.verify({**params, "sign_type": "MD5"}, DOC_KEY)
    assert not signing.verify({**DOC_PARAMS}, DOC_KEY)


def test_xml_round_trip_with_cdata_breakers() -> None:
    fields = {"return_code": "SUCCESS", "body": "a]]>b<c>&d 中文", "total_fee": 1}
    text = to_flat_xml(fields)
    assert "<total_fee>1</total_fee>" in text
    assert parse_flat_xml(text.encode()) == {
        "return_code": "SUCCESS",
        "body": "a]]>b<c>&d 中文",
        "total_fee": "1",
    }


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x "y">]><xml><a>&x;</a></xml>',
        b'<!doctype xml SYSTEM "file:///etc/passwd"><xml></xml>',
        b"<xml><a><b>nested</b></a></xml>",
        b"<xml><a>1</a><a>2</a></xml>",
        b"<root><a>1</a></root>",
        b"<xml><a>unclosed</xml>",
        b"",
        b"<xml><a>" + b"x" * 70_000 + b"</a></xml>",
        b"<xml><a>\xff\xfe</a></xml>",
    ],
)
def test_unsafe_or_malformed_xml_is_refused(document: bytes) -> None:
    with pytest.raises(XmlRejected):
        parse_flat_xml(document)


def test_config_defaults_and_environment() -> None:
    assert len(DEFAULT_PAY_KEY) == 32
    default = SandboxConfig.from_env({})
    assert (default.appid, default.mch_id, default.time_factor) == (
        "wx0000000000sandbox",
        "1900000109",
        60.0,
    )
    assert default.flagged_words["赌博"] == 20006
    custom = SandboxConfig.from_env(
        {
            "WECHAT_APPID": "wxabc",
            "WECHAT_PAY_KEY": "k" * 32,
            "SANDBOX_TIME_FACTOR": "1000",
            "SANDBOX_FLAGGED_WORDS": "坏词:20002, 另一个",
            "SANDBOX_MEDIA_CALLBACK_URL": "http://127.0.0.1:9/push",
        }
    )
    assert custom.appid == "wxabc"
    assert custom.time_factor == 1000
    assert dict(custom.flagged_words) == {"坏词": 20002, "另一个": 21000}
    assert custom.media_callback_url == "http://127.0.0.1:9/push"
    with pytest.raises(ValueError, match="32"):
        SandboxConfig.from_env({"WECHAT_PAY_KEY": "short"})
