"""Log injection: text from outside (an order number, a path, an exception's message) can
never start a line of its own that reads like a log record."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.payments_support import notification, to_xml

#: what the start of a record looks like in the app's format
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d ")
FORGED = "2026-01-01 00:00:00,000 INFO [-] linshan: forged"
#: every character that some viewer or parser takes as the end of a line
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def real_handler() -> logging.Handler:
    """The handler the app installs on the root logger."""
    return next(h for h in logging.getLogger().handlers if getattr(h, "linshan", False))


def assert_one_line(text: str) -> None:
    """`text` holds no line break of any kind, nor other control characters."""
    assert not any(c in text for c in LINE_BREAKS), repr(text)
    assert len(text.splitlines()) == 1, repr(text)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]", text), repr(text)


@pytest.fixture
def logs(app: Flask, caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog, catching INFO and up (the access log included) during the test."""
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="linshan"):
        yield caplog


def test_a_record_is_one_line_whatever_its_message_holds(logs) -> None:
    hostile = f"a\nb\rc\u2028d\u2029e\x1b[31mf\x85g\x00h\u202ei\t{FORGED}\n"
    logging.getLogger("linshan.test").warning("order %s: %s", hostile, {"k": "x\ny"})
    formatted = real_handler().format(logs.records[-1])
    assert_one_line(formatted)
    assert "a\\nb\\rc\\u2028d" in formatted  # escaped, still readable
    assert RECORD_START.match(formatted)


def test_an_exception_message_cannot_forge_a_record(logs) -> None:
    try:
        raise ValueError(f"bad input\n{FORGED}\r\n{FORGED}")
    except ValueError:
        logging.getLogger("linshan.test").exception("failed on %s", f"x\n{FORGED}")
    formatted = real_handler().format(logs.records[-1])
    first, *rest = formatted.split("\n")
    assert_one_line(first)
    assert rest, "the traceback is kept"
    assert any("Traceback" in line for line in rest)
    # No line but the first may look like the start of a record; CR is escaped everywhere.
    assert not any(RECORD_START.match(line) for line in rest), formatted
    assert "\r" not in formatted
    assert all(line.startswith("  | ") for line in rest), formatted


def test_a_forged_order_number_in_a_notification_stays_on_its_line(
    client: FlaskClient, logs
) -> None:
    notify = "/api/v1/payments/wechat/notify"
    # Unsigned: refused before anything in it is believed. Signed: no order number of ours
    # holds a line break, so it is refused too. Either way the log never repeats it.
    forged = to_xml(notification(f"LS1\n{FORGED}", 100), sign="0" * 32)
    signed = to_xml(notification(f"LS2\n{FORGED}", 100))
    signed_transaction = to_xml(notification("LS3" + "0" * 29, 100, transaction_id=f"4\n{FORGED}"))
    for body in (forged, signed, signed_transaction):
        response = client.post(notify, data=body, environ_base={"REMOTE_ADDR": "192.0.2.44"})
        assert "FAIL" in response.get_data(as_text=True)
    assert [r for r in logs.records if "ALERT" in r.getMessage()]
    assert not any("forged" in r.getMessage() for r in logs.records)
    for record in logs.records:
        assert_one_line(real_handler().format(record))


def test_a_request_path_with_an_encoded_newline_stays_on_its_line(
    client: FlaskClient, logs
) -> None:
    path = "/api/v1/regions%0a2026-01-01%2000:00:00,000%20INFO%20[-]%20linshan:%20forged%0d"
    client.get(path)
    access = [r for r in logs.records if r.name == "linshan.access"]
    assert access
    for record in access:
        assert "\n" not in record.getMessage()  # the access line escapes the path itself
        assert_one_line(real_handler().format(record))


def test_handlers_configure_logging_finds_get_the_escaping_formatter(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    from backend.logging_setup import configure_logging

    gunicorn = logging.getLogger("gunicorn.access")
    theirs = logging.StreamHandler()
    theirs.setFormatter(logging.Formatter("%(message)s"))
    gunicorn.addHandler(theirs)
    try:
        configure_logging(app.config["SETTINGS"].log_level)
        configure_logging(app.config["SETTINGS"].log_level)  # twice: wrapped once
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "a\n%s", (FORGED,), None)
        for handler in (caplog.handler, theirs):
            assert_one_line(handler.format(record))
        assert theirs.format(record) == f"a\\n{FORGED}"
    finally:
        gunicorn.removeHandler(theirs)
