"""Configuration is read from the environment and validated at start-up."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from backend import config as config_module
from backend.config import (
    SANDBOX_APPID,
    SANDBOX_MCH_ID,
    SANDBOX_MESSAGE_TOKEN,
    SANDBOX_PAY_KEY,
    SANDBOX_SECRET,
    ConfigError,
    Settings,
)
from backend.wechat_sandbox import config as sandbox_config

PROD_BASE = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql://linshan@db.internal:5432/linshan",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SECRET_KEY": "k" * 40,
    "PUBLIC_BASE_URL": "https://linshan.example.org",
    "WECHAT_APPID": "wx1234567890abcdef",
    "WECHAT_SECRET": "s" * 32,
    "WECHAT_MCH_ID": "1230000109",
    "WECHAT_PAY_KEY": "p" * 32,
    "WECHAT_MESSAGE_TOKEN": "pushtoken2026",
    "WECHAT_TEMPLATE_DONATION_PAID": "off",
    "WECHAT_TEMPLATE_MONEY_SPENT": "off",
    # several nodes share an object store (STORAGE=local in production is warned about)
    "STORAGE": "s3",
    "S3_BUCKET": "linshan-1250000000",
}


@pytest.fixture
def prod_env(tmp_path) -> dict[str, str]:
    cert, key = tmp_path / "apiclient_cert.pem", tmp_path / "apiclient_key.pem"
    cert.write_text("cert")
    key.write_text("key")
    return {**PROD_BASE, "WECHAT_MCH_CERT_PATH": str(cert), "WECHAT_MCH_KEY_PATH": str(key)}


def test_development_defaults_use_the_sandbox_and_say_so() -> None:
    settings = Settings.from_env({})
    assert settings.app_env == "development"
    assert settings.uses_sandbox
    assert settings.wechat_appid == SANDBOX_APPID
    assert settings.wechat_api_base.startswith("http://127.0.0.1:")
    assert settings.database_url is None and settings.redis_url is None
    assert any("sandbox" in w for w in settings.warnings)


def test_a_complete_production_environment_is_accepted(prod_env: dict[str, str]) -> None:
    settings = Settings.from_env(prod_env)
    assert settings.production
    assert not settings.uses_sandbox
    assert settings.database_url == "postgresql+psycopg://linshan@db.internal:5432/linshan"
    assert settings.wechat_api_base == "https://api.weixin.qq.com/"
    assert settings.wechat_pay_api_base == "https://api.mch.weixin.qq.com/"
    assert settings.warnings == ()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"DATABASE_URL": ""}, "DATABASE_URL is required"),
        ({"REDIS_URL": ""}, "REDIS_URL is required"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"SECRET_KEY": "short"}, "at least 32 characters"),
        ({"PUBLIC_BASE_URL": "http://linshan.example.org"}, "must use https"),
        ({"WECHAT_APPID": "", "WECHAT_SECRET": "", "WECHAT_MCH_ID": "", "WECHAT_PAY_KEY": ""},
         "required when APP_ENV=production"),
        ({"WECHAT_PAY_KEY": ""}, "WECHAT_PAY_KEY missing"),
        ({"WECHAT_MCH_CERT_PATH": ""}, "WECHAT_MCH_CERT_PATH and WECHAT_MCH_KEY_PATH"),
        ({"WECHAT_API_BASE": "http://127.0.0.1:5055/"}, "WECHAT_API_BASE must use https"),
        ({"DATABASE_URL": "mysql://root@localhost/linshan"}, "must be a PostgreSQL URL"),
        ({"WECHAT_MESSAGE_TOKEN": ""}, "WECHAT_MESSAGE_TOKEN is required"),
    ],
)  # fmt: skip
def test_production_refuses_what_development_allows(
    prod_env: dict[str, str], change: dict[str, str], reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason):
        Settings.from_env({**prod_env, **change})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WECHAT_PAY_KEY", SANDBOX_PAY_KEY),
        ("WECHAT_MESSAGE_TOKEN", SANDBOX_MESSAGE_TOKEN),
        ("WECHAT_APPID", SANDBOX_APPID),
        ("WECHAT_SECRET", SANDBOX_SECRET),
        ("WECHAT_MCH_ID", SANDBOX_MCH_ID),
    ],
)
def test_production_refuses_the_sandboxs_public_values_given_explicitly(
    prod_env: dict[str, str], name: str, value: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**prod_env, name: f"  {value} "})
    message = str(refused.value)
    assert message.startswith(f"{name} ")
    assert "sandbox" in message and "\n" not in message
    assert value not in message  # the message names the variable, not the value
    # Development may name them explicitly.
    explicit = Settings.from_env({**config_module.SANDBOX_VALUES, "APP_ENV": "development"})
    assert getattr(explicit, name.lower()) == value


def test_the_refused_values_are_the_sandboxs_own_defaults() -> None:
    assert config_module.SANDBOX_VALUES == {
        "WECHAT_APPID": sandbox_config.DEFAULT_APPID,
        "WECHAT_SECRET": sandbox_config.DEFAULT_SECRET,
        "WECHAT_MCH_ID": sandbox_config.DEFAULT_MCH_ID,
        "WECHAT_PAY_KEY": sandbox_config.DEFAULT_PAY_KEY,
        "WECHAT_MESSAGE_TOKEN": sandbox_config.DEFAULT_MESSAGE_TOKEN,
    }


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"APP_ENV": "staging"}, "APP_ENV must be one of"),
        ({"REDIS_URL": "memcached://x"}, "REDIS_URL must start with"),
        ({"TRUSTED_PROXY_COUNT": "two"}, "TRUSTED_PROXY_COUNT"),
        ({"PUBLIC_BASE_URL": "linshan.example.org"}, "absolute http"),
        ({"WECHAT_PAY_KEY": "short", "WECHAT_APPID": "wx1", "WECHAT_SECRET": "s",
          "WECHAT_MCH_ID": "1"}, "32-character"),
        ({"LOG_LEVEL": "CHATTY"}, "LOG_LEVEL"),
        ({"WECHAT_MCH_CERT_PATH": "/nonexistent/cert.pem"}, "readable file"),
        ({"PROGRESS_CACHE_MS": "-1"}, "PROGRESS_CACHE_MS"),
        ({"PROGRESS_CACHE_MS": "600000"}, "PROGRESS_CACHE_MS"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_in_any_environment(env: dict[str, str], reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        Settings.from_env(env)


def test_a_bad_configuration_stops_the_app_with_one_line_and_no_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "APP_ENV"))}
    env.update({"APP_ENV": "production", "DATABASE_URL": "", "REDIS_URL": ""})
    result = subprocess.run(
        [sys.executable, "-c", "from backend import create_app; create_app()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "linshan: configuration error: DATABASE_URL is required when APP_ENV=production"
    ]
