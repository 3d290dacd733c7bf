"""LOG_FORMAT=json: one JSON object a line, with the request id (or the job's name), and no
value, however hostile, can end its line or forge an object of its own."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.config import ConfigError, Settings
from backend.logging_setup import JsonFormatter, RequestIdFilter, job_logging

ROOT = Path(__file__).resolve().parent.parent
#: a forged record, as JSON and as text, after a line break of each kind viewers honour
FORGED = '{"time": "2026-01-01T00:00:00.000+00:00", "level": "INFO", "message": "forged"}'
HOSTILE = f'a\n{FORGED}\r{FORGED}\u2028{FORGED}\u2029b\x85c\x1b[31md\x00e\u202ef\x0b\x0cg"h\\'
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

#: run in a process of its own: the app's real handler writes to the real stderr
SCRIPT = """
import json, logging, sys
from backend import create_app
from backend.jobs.tasks import job

app = create_app()
hostile = json.loads(sys.stdin.read())
client = app.test_client()

@app.get("/test-log")
def test_log():
    logging.getLogger("linshan.test").warning("order %s", hostile)
    try:
        raise ValueError(hostile)
    except ValueError:
        logging.getLogger("linshan.test").exception("failed: %s", hostile)
    return "ok"

client.get("/test-log", headers={"X-Request-ID": "req-json-000001"})
client.get("/p/" + hostile.replace("\\x00", ""), headers={"X-Request-ID": "req-json-000002"})

@job
def failing_job():
    raise RuntimeError(hostile)

with app.app_context():
    try:
        failing_job()
    except RuntimeError:
        pass
"""


def run_app(test_environ: dict[str, str], **env: str) -> list[str]:
    """The stderr lines of a process that serves two requests and runs a failing job."""
    environ = {**os.environ, **test_environ, "LOG_LEVEL": "INFO", **env}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=environ, capture_output=True,
        input=json.dumps(HOSTILE).encode(), check=True, timeout=120,
    )  # fmt: skip
    text = result.stderr.decode("utf-8")
    assert not any(c in text.replace("\n", "") for c in LINE_BREAKS), "only \\n ends a line"
    return text.rstrip("\n").split("\n")


def test_every_line_is_one_json_object_with_its_request_id(test_environ, app) -> None:
    lines = run_app(test_environ, LOG_FORMAT="json")
    records = [json.loads(line) for line in lines]  # every line parses
    assert all(isinstance(r, dict) for r in records)
    assert all({"time", "level", "logger", "message", "request_id"} <= r.keys() for r in records)
    assert all(r["time"].endswith("+00:00") and "T" in r["time"] for r in records)
    assert not any(r["message"] == "forged" or r.get("level") == "forged" for r in records)

    first = [r for r in records if r["request_id"] == "req-json-000001"]
    warning = next(r for r in first if r["level"] == "WARNING")
    assert warning == {**warning, "logger": "linshan.test", "message": f"order {HOSTILE}"}
    failed = next(r for r in first if r["level"] == "ERROR")
    assert failed["message"] == f"failed: {HOSTILE}"
    assert "Traceback" in failed["exception"]
    assert failed["exception"].endswith(f"ValueError: {HOSTILE}")
    access = [r for r in first if r["logger"] == "linshan.access"]
    assert len(access) == 1 and access[0]["message"].startswith("GET /test-log 200")
    second = [r for r in records if r["request_id"] == "req-json-000002"]
    assert [r["logger"] for r in second] == ["linshan.access"]
    assert "404" in second[0]["message"]

    job = next(r for r in records if r.get("job") == "failing_job")
    assert job["request_id"] is None
    assert job["message"] == "job failing_job failed"
    assert job["exception"].endswith(f"RuntimeError: {HOSTILE}")


def test_text_stays_the_development_default(test_environ, app) -> None:
    lines = run_app(test_environ)
    assert lines and not any(line.startswith("{") for line in lines)
    assert any("[req-json-000001] linshan.test: order a\\n{" in line for line in lines)


def test_the_formatter_escapes_what_json_would_leave_raw() -> None:
    record = logging.LogRecord("linshan.t", logging.INFO, __file__, 1, "%s", (HOSTILE,), None)
    RequestIdFilter().filter(record)
    with job_logging("seal_journal"):
        in_job = logging.LogRecord("linshan.t", logging.INFO, __file__, 1, "x", None, None)
        RequestIdFilter().filter(in_job)
    line = JsonFormatter().format(record)
    assert not any(c in line for c in LINE_BREAKS + "\x00\x1b\u202e")
    assert line.isascii() is False or "\\u2028" in line
    assert json.loads(line)["message"] == HOSTILE
    assert json.loads(JsonFormatter().format(in_job))["job"] == "seal_journal"
    chinese = logging.LogRecord("linshan.t", logging.INFO, __file__, 1, "捐赠 %s", ("成功",), None)
    assert '"捐赠 成功"' in JsonFormatter().format(chinese)  # readable, not \u escapes


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "text"), ({"LOG_FORMAT": "JSON"}, "json"), ({"LOG_FORMAT": "text"}, "text")],
)
def test_log_format_setting(env: dict[str, str], expected: str) -> None:
    assert Settings.from_env(env).observe.log_format == expected


def test_log_format_is_checked() -> None:
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml"})


def test_production_logs_json_unless_told_otherwise(tmp_path) -> None:
    from tests.test_config import PROD_BASE

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    env = {**PROD_BASE, "WECHAT_MCH_CERT_PATH": str(cert), "WECHAT_MCH_KEY_PATH": str(key)}
    assert Settings.from_env(env).observe.log_format == "json"
    assert Settings.from_env({**env, "LOG_FORMAT": "text"}).observe.log_format == "text"
