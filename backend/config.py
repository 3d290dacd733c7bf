"""Configuration from the environment, validated once at start-up."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

APP_ENVS = ("development", "production")
SANDBOX_PORT = 5055
DEFAULT_WECHAT_API_BASE = "https://api.weixin.qq.com/"
DEFAULT_WECHAT_PAY_API_BASE = "https://api.mch.weixin.qq.com/"

# The sandbox plays WeChat for these credentials when none are configured (development only).
SANDBOX_APPID = "wx0000000000sandbox"
SANDBOX_SECRET = "sandbox-app-secret"  # noqa: S105 - a public sandbox value, not a secret
SANDBOX_MCH_ID = "1900000109"
SANDBOX_PAY_KEY = "sandboxpaykey0000000000000000000"
SANDBOX_MESSAGE_TOKEN = "sandbox-message-token"  # noqa: S105 - public sandbox value
# Subscribe message templates the sandbox stands in for (it accepts any template id).
SANDBOX_TEMPLATE_DONATION_PAID = "sandbox-tmpl-donation-paid"
SANDBOX_TEMPLATE_MONEY_SPENT = "sandbox-tmpl-money-spent"
#: a template variable set to this turns that message off
TEMPLATE_OFF = "off"

#: variable -> the sandbox's public value: published in this repository, so production
#: refuses each of them even when it is given explicitly
SANDBOX_VALUES: dict[str, str] = {
    "WECHAT_APPID": SANDBOX_APPID,
    "WECHAT_SECRET": SANDBOX_SECRET,
    "WECHAT_MCH_ID": SANDBOX_MCH_ID,
    "WECHAT_PAY_KEY": SANDBOX_PAY_KEY,
    "WECHAT_MESSAGE_TOKEN": SANDBOX_MESSAGE_TOKEN,
}
#: template variable -> the id the sandbox stands in for (refused by production likewise)
SANDBOX_TEMPLATES: dict[str, str] = {
    "WECHAT_TEMPLATE_DONATION_PAID": SANDBOX_TEMPLATE_DONATION_PAID,
    "WECHAT_TEMPLATE_MONEY_SPENT": SANDBOX_TEMPLATE_MONEY_SPENT,
}


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message is one line for the operator."""


@dataclass(frozen=True)
class Settings:
    """Validated settings; build with `Settings.from_env`."""

    app_env: str
    database_url: str | None
    redis_url: str | None
    secret_key: str | None
    public_base_url: str
    wechat_appid: str
    wechat_secret: str
    wechat_mch_id: str
    wechat_pay_key: str
    wechat_mch_cert_path: str | None
    wechat_mch_key_path: str | None
    wechat_api_base: str
    wechat_pay_api_base: str
    trusted_proxy_count: int
    log_level: str
    uses_sandbox: bool
    wechat_message_token: str = SANDBOX_MESSAGE_TOKEN
    donation_max_fen: int = 5_000_000
    donations_per_minute: int = 10
    logins_per_minute: int = 30
    progress_cache_ms: int = 1000
    #: subscribe message template ids (捐赠成功通知, 善款使用通知); None: that message is off
    wechat_template_donation_paid: str | None = None
    wechat_template_money_spent: str | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def production(self) -> bool:
        """True when running with `APP_ENV=production`."""
        return self.app_env == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate settings from `env` (default: the process environment)."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        warnings: list[str] = []
        app_env = get("APP_ENV") or "development"
        if app_env not in APP_ENVS:
            raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)}, not {app_env!r}")
        production = app_env == "production"

        database_url = get("DATABASE_URL")
        if database_url is not None:
            database_url = normalise_database_url(database_url)
        elif production:
            raise ConfigError("DATABASE_URL is required when APP_ENV=production")

        redis_url = get("REDIS_URL")
        if redis_url is not None:
            scheme = urlsplit(redis_url).scheme
            if scheme not in ("redis", "rediss", "unix"):
                raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
        elif production:
            raise ConfigError("REDIS_URL is required when APP_ENV=production")

        secret_key = get("SECRET_KEY")
        if secret_key is not None and len(secret_key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters long")
        if secret_key is None and production:
            raise ConfigError("SECRET_KEY is required when APP_ENV=production")

        public_base_url = get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000"
        parts = urlsplit(public_base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("PUBLIC_BASE_URL must be an absolute http(s) URL")
        if production and parts.scheme != "https":
            raise ConfigError("PUBLIC_BASE_URL must use https when APP_ENV=production")
        public_base_url = public_base_url.rstrip("/")

        wechat_names = ("WECHAT_APPID", "WECHAT_SECRET", "WECHAT_MCH_ID", "WECHAT_PAY_KEY")
        given = {name: get(name) for name in wechat_names}
        api_base = _base_url(get("WECHAT_API_BASE"), "WECHAT_API_BASE")
        pay_base = _base_url(get("WECHAT_PAY_API_BASE"), "WECHAT_PAY_API_BASE")
        uses_sandbox = not any(given.values())
        if uses_sandbox:
            if production:
                raise ConfigError(
                    "WECHAT_APPID, WECHAT_SECRET, WECHAT_MCH_ID and WECHAT_PAY_KEY are required "
                    "when APP_ENV=production"
                )
            sandbox = f"http://127.0.0.1:{SANDBOX_PORT}/"
            api_base = api_base or sandbox
            pay_base = pay_base or sandbox
            given = {
                "WECHAT_APPID": SANDBOX_APPID,
                "WECHAT_SECRET": SANDBOX_SECRET,
                "WECHAT_MCH_ID": SANDBOX_MCH_ID,
                "WECHAT_PAY_KEY": SANDBOX_PAY_KEY,
            }
            warnings.append(f"no WeChat credentials given: using the WeChat sandbox at {api_base}")
        else:
            missing = [name for name, value in given.items() if value is None]
            if missing:
                raise ConfigError(f"{', '.join(missing)} missing: give all four WeChat settings")
            api_base = api_base or DEFAULT_WECHAT_API_BASE
            pay_base = pay_base or DEFAULT_WECHAT_PAY_API_BASE
        if len(given["WECHAT_PAY_KEY"] or "") != 32:
            raise ConfigError("WECHAT_PAY_KEY must be the 32-character API key of the merchant")

        cert_path, key_path = get("WECHAT_MCH_CERT_PATH"), get("WECHAT_MCH_KEY_PATH")
        for name, path in (("WECHAT_MCH_CERT_PATH", cert_path), ("WECHAT_MCH_KEY_PATH", key_path)):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{name} does not name a readable file")
        if production:
            if cert_path is None or key_path is None:
                raise ConfigError(
                    "WECHAT_MCH_CERT_PATH and WECHAT_MCH_KEY_PATH are required when "
                    "APP_ENV=production (refunds)"
                )
            for name, base in (("WECHAT_API_BASE", api_base), ("WECHAT_PAY_API_BASE", pay_base)):
                if not base.startswith("https://"):
                    raise ConfigError(f"{name} must use https when APP_ENV=production")

        message_token = get("WECHAT_MESSAGE_TOKEN")
        if message_token is None and production:
            raise ConfigError(
                "WECHAT_MESSAGE_TOKEN is required when APP_ENV=production (message push token)"
            )
        if message_token is not None and not 3 <= len(message_token) <= 32:
            raise ConfigError("WECHAT_MESSAGE_TOKEN must be 3 to 32 characters, as WeChat requires")
        if production:
            refuse_sandbox_values({**given, "WECHAT_MESSAGE_TOKEN": message_token})

        templates = _templates(get, production, uses_sandbox, warnings)

        raw_proxies = get("TRUSTED_PROXY_COUNT") or "0"
        if not raw_proxies.isdigit() or int(raw_proxies) > 10:
            raise ConfigError("TRUSTED_PROXY_COUNT must be a whole number from 0 to 10")

        log_level = (get("LOG_LEVEL") or "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")

        limits = {}
        for name, default in (
            ("DONATION_MAX_FEN", 5_000_000),
            ("RATE_LIMIT_DONATIONS_PER_MINUTE", 10),
            ("RATE_LIMIT_LOGINS_PER_MINUTE", 30),
        ):
            raw = get(name) or str(default)
            if not raw.isdigit() or int(raw) < 1:
                raise ConfigError(f"{name} must be a positive whole number")
            limits[name] = int(raw)
        raw_cache = get("PROGRESS_CACHE_MS") or "1000"
        if not raw_cache.isdigit() or int(raw_cache) > 60_000:
            raise ConfigError("PROGRESS_CACHE_MS must be a whole number from 0 to 60000")

        if not production:
            warnings.insert(0, "APP_ENV=development: embedded services and the sandbox allowed")
        return cls(
            app_env=app_env,
            database_url=database_url,
            redis_url=redis_url,
            secret_key=secret_key,
            public_base_url=public_base_url,
            wechat_appid=given["WECHAT_APPID"] or "",
            wechat_secret=given["WECHAT_SECRET"] or "",
            wechat_mch_id=given["WECHAT_MCH_ID"] or "",
            wechat_pay_key=given["WECHAT_PAY_KEY"] or "",
            wechat_mch_cert_path=cert_path,
            wechat_mch_key_path=key_path,
            wechat_api_base=api_base,
            wechat_pay_api_base=pay_base,
            trusted_proxy_count=int(raw_proxies),
            log_level=log_level,
            uses_sandbox=uses_sandbox,
            wechat_message_token=message_token or SANDBOX_MESSAGE_TOKEN,
            donation_max_fen=limits["DONATION_MAX_FEN"],
            donations_per_minute=limits["RATE_LIMIT_DONATIONS_PER_MINUTE"],
            logins_per_minute=limits["RATE_LIMIT_LOGINS_PER_MINUTE"],
            progress_cache_ms=int(raw_cache),
            wechat_template_donation_paid=templates["WECHAT_TEMPLATE_DONATION_PAID"],
            wechat_template_money_spent=templates["WECHAT_TEMPLATE_MONEY_SPENT"],
            warnings=tuple(warnings),
        )


_TEMPLATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _templates(
    get: Callable[[str], str | None], production: bool, uses_sandbox: bool, warnings: list[str]
) -> dict[str, str | None]:
    """The subscribe message template ids: each variable names a template or is `off`.
    Production requires each one (an id or `off`) and refuses the sandbox's; development
    defaults to the sandbox's ids on the sandbox, and to `off` with real credentials."""
    templates: dict[str, str | None] = {}
    for name, sandbox_id in SANDBOX_TEMPLATES.items():
        value = get(name)
        if value is None:
            if production:
                raise ConfigError(
                    f"{name} is required when APP_ENV=production (a template id, or off)"
                )
            if not uses_sandbox:
                warnings.append(f"{name} not given: that subscribe message is off")
            value = sandbox_id if uses_sandbox else TEMPLATE_OFF
        if value.lower() == TEMPLATE_OFF:
            templates[name] = None
            continue
        if not _TEMPLATE_ID.match(value):
            raise ConfigError(f"{name} must be a template id (letters, digits, - and _) or off")
        if production and value == sandbox_id:
            raise ConfigError(
                f"{name} is the WeChat sandbox's template: give your own when APP_ENV=production"
            )
        templates[name] = value
    ids = [value for value in templates.values() if value is not None]
    if len(ids) != len(set(ids)):
        raise ConfigError(
            "WECHAT_TEMPLATE_DONATION_PAID and WECHAT_TEMPLATE_MONEY_SPENT must differ"
        )
    return templates


def refuse_sandbox_values(values: Mapping[str, str | None]) -> None:
    """Refuse, naming the variable, any credential that is the sandbox's public value."""
    for name, public in SANDBOX_VALUES.items():
        if values.get(name) == public:
            raise ConfigError(
                f"{name} is the WeChat sandbox's public value: give your own when "
                "APP_ENV=production"
            )


def normalise_database_url(url: str) -> str:
    """Accept the usual `postgresql://` forms and select the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError("DATABASE_URL must look like postgresql://user@host:port/database")
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    raise ConfigError("DATABASE_URL must be a PostgreSQL URL (postgresql://...)")


def _base_url(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an absolute http(s) URL")
    return value if value.endswith("/") else value + "/"


def development_secret_key(instance_path: Path) -> str:
    """A per-checkout secret kept under instance/, shared by every local process."""
    path = instance_path / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Write aside, then link into place: when two processes race, both end with the winner's key.
    tmp = instance_path / f".secret_key.{os.getpid()}"
    tmp.write_text(key)
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        tmp.unlink()
    return key
