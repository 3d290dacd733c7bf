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
    #: where uploads are kept (STORAGE=local|s3 and the S3_* settings)
    storage: StorageSettings = field(default_factory=lambda: StorageSettings())
    #: log format, /metrics access and per-caller request limits (LOG_FORMAT, METRICS_TOKEN,
    #: RATE_LIMIT_USER_PER_MINUTE, RATE_LIMIT_ADDRESS_PER_MINUTE)
    observe: ObserveSettings = field(default_factory=lambda: ObserveSettings())
    #: WeChat Pay API version (WECHAT_PAY_VERSION=v2|v3) and v3's keys (None under v2)
    wechat_pay_version: str = "v2"
    pay_v3: PayV3Settings | None = None
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
            if given["WECHAT_PAY_KEY"] is None and (get("WECHAT_PAY_VERSION") or "") == "v3":
                # v3 never uses the APIv2 key, and a new merchant may have none: a random one
                # keeps the v2 endpoints verifying against a key nobody holds.
                given["WECHAT_PAY_KEY"] = secrets.token_hex(16)
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
        observe = _observe(get, production)
        storage = _storage(get, production, warnings)
        pay_version, pay_v3 = _pay_v3(get, production, cert_path, key_path)

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
            storage=storage,
            observe=observe,
            wechat_pay_version=pay_version,
            pay_v3=pay_v3,
            warnings=tuple(warnings),
        )


@dataclass(frozen=True)
class StorageSettings:
    """Where uploads are kept. `STORAGE=local` (the default): `instance/uploads/` on this
    node's disk, fine for one node. `STORAGE=s3`: a bucket of an S3-compatible object store
    (Tencent COS, AWS S3, MinIO...) that every node shares: `S3_BUCKET` (required),
    `S3_ENDPOINT_URL` (e.g. `https://cos.ap-guangzhou.myqcloud.com`; AWS's own when
    unset), `S3_REGION` (e.g. `ap-guangzhou`; `us-east-1` when unset),
    `S3_ACCESS_KEY_ID` and `S3_SECRET_ACCESS_KEY` (both or neither: boto3's own chain,
    e.g. an instance role), `S3_ADDRESSING_STYLE` (`virtual`, the default, or `path`), and
    `S3_PUBLIC_BASE_URL` (optional: a CDN or the bucket's URL published files are read
    from; unset, the app serves every file under `/media/`, streaming from the bucket)."""

    kind: str = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_addressing_style: str = "virtual"
    s3_public_base_url: str | None = None


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z0-9-]{2,32}$")


def _storage(
    get: Callable[[str], str | None], production: bool, warnings: list[str]
) -> StorageSettings:
    """Validate STORAGE and the S3_* settings; production on the local disk is warned about
    (one node only: another node would not find the files)."""
    kind = (get("STORAGE") or "local").lower()
    if kind not in ("local", "s3"):
        raise ConfigError("STORAGE must be local or s3")
    if kind == "local":
        if production:
            warnings.append(
                "STORAGE=local in production: uploads stay on this node's disk; "
                "with several nodes use STORAGE=s3"
            )
        return StorageSettings()
    bucket = get("S3_BUCKET")
    if bucket is None:
        raise ConfigError("S3_BUCKET is required when STORAGE=s3")
    if not _BUCKET.match(bucket):
        raise ConfigError("S3_BUCKET must be a bucket name (lower-case letters, digits, . and -)")
    endpoint = get("S3_ENDPOINT_URL")
    public = get("S3_PUBLIC_BASE_URL")
    for name, url in (("S3_ENDPOINT_URL", endpoint), ("S3_PUBLIC_BASE_URL", public)):
        if url is None:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ConfigError(f"{name} must be an absolute http(s) URL")
        if production and parts.scheme != "https":
            raise ConfigError(f"{name} must use https when APP_ENV=production")
    region = get("S3_REGION") or "us-east-1"
    if not _REGION.match(region):
        raise ConfigError("S3_REGION must be a region name such as ap-guangzhou")
    key_id, secret = get("S3_ACCESS_KEY_ID"), get("S3_SECRET_ACCESS_KEY")
    if (key_id is None) != (secret is None):
        raise ConfigError("give both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither")
    style = (get("S3_ADDRESSING_STYLE") or "virtual").lower()
    if style not in ("virtual", "path"):
        raise ConfigError("S3_ADDRESSING_STYLE must be virtual or path")
    return StorageSettings(
        kind="s3",
        s3_bucket=bucket,
        s3_endpoint_url=endpoint,
        s3_region=region,
        s3_access_key_id=key_id,
        s3_secret_access_key=secret,
        s3_addressing_style=style,
        s3_public_base_url=public.rstrip("/") if public else None,
    )


@dataclass(frozen=True)
class ObserveSettings:
    """Logs, metrics and request limits (docs/observability.md).

    `LOG_FORMAT`: `json` (one JSON object a line; the default when APP_ENV=production) or
    `text` (the default in development). `METRICS_TOKEN`: when set, `GET /metrics` asks for
    `Authorization: Bearer <token>` (at least 16 characters); unset, only loopback and
    private addresses may read it. `RATE_LIMIT_USER_PER_MINUTE` (default 300): API calls a
    logged-in user may make a minute, wherever they call from; `RATE_LIMIT_ADDRESS_PER_MINUTE`
    (default 1200): anonymous calls per client address, looser since a charity space's
    Wi-Fi puts many residents behind one address (both token buckets: a minute's worth may
    come at once, then the rate)."""

    log_format: str = "text"
    metrics_token: str | None = None
    user_requests_per_minute: int = 300
    address_requests_per_minute: int = 1200


def _observe(get: Callable[[str], str | None], production: bool) -> ObserveSettings:
    """Validate LOG_FORMAT, METRICS_TOKEN and the per-caller request limits."""
    log_format = (get("LOG_FORMAT") or ("json" if production else "text")).lower()
    if log_format not in ("json", "text"):
        raise ConfigError("LOG_FORMAT must be json or text")
    token = get("METRICS_TOKEN")
    if token is not None and len(token) < 16:
        raise ConfigError("METRICS_TOKEN must be at least 16 characters long")
    limits = {}
    for name, default in (
        ("RATE_LIMIT_USER_PER_MINUTE", 300),
        ("RATE_LIMIT_ADDRESS_PER_MINUTE", 1200),
    ):
        raw = get(name) or str(default)
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(f"{name} must be a positive whole number")
        limits[name] = int(raw)
    return ObserveSettings(
        log_format=log_format,
        metrics_token=token,
        user_requests_per_minute=limits["RATE_LIMIT_USER_PER_MINUTE"],
        address_requests_per_minute=limits["RATE_LIMIT_ADDRESS_PER_MINUTE"],
    )


@dataclass(frozen=True)
class PayV3Settings:
    """WeChat Pay APIv3 (docs/wechatpay-v3.md), read when `WECHAT_PAY_VERSION=v3`.

    `WECHAT_PAY_V3_KEY`: the APIv3 key (exactly 32 ASCII characters) that decrypts
    notifications. `WECHAT_MCH_KEY_PATH` (required): the merchant's API private key, PEM,
    RSA ≥ 2048 bits, which signs requests and `wx.requestPayment`'s paySign.
    `WECHAT_MCH_CERT_PATH`: the merchant's API certificate (PEM); its serial is the
    `serial_no` of request signatures, unless `WECHAT_MCH_CERT_SERIAL` (hex) is given, in
    which case the certificate may be left out. WeChat's signatures are checked with the
    WeChat Pay public key (`WECHAT_PAY_PUBLIC_KEY_PATH`, PEM, with its id
    `WECHAT_PAY_PUBLIC_KEY_ID`, `PUB_KEY_ID_` and digits), with the platform certificates
    in `WECHAT_PAY_PLATFORM_CERTS_DIR` (*.pem, each named by its own serial), or both
    (a merchant moving from certificates to the public key). Production refuses the key
    material `backend/payments/v3_keys.py` makes for the sandbox."""

    api_v3_key: str
    merchant_serial: str
    public_key_path: str | None = None
    public_key_id: str | None = None
    platform_certs_dir: str | None = None


#: the marker file and certificate organisation of the sandbox's v3 key material
V3_SANDBOX_MARKER = "SANDBOX-KEYS-NOT-FOR-PRODUCTION"
V3_SANDBOX_ORGANIZATION = "Linshan WeChat Pay sandbox"
_PUBLIC_KEY_ID = re.compile(r"^PUB_KEY_ID_[0-9]{16,64}$")
_CERT_SERIAL = re.compile(r"^[0-9A-Fa-f]{8,40}$")


def _pay_v3(
    get: Callable[[str], str | None],
    production: bool,
    cert_path: str | None,
    key_path: str | None,
) -> tuple[str, PayV3Settings | None]:
    """Validate WECHAT_PAY_VERSION and, for v3, its keys: files readable and parseable,
    the certificate matching the private key, the APIv3 key 32 bytes, the key id's shape."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    version = (get("WECHAT_PAY_VERSION") or "v2").lower()
    if version not in ("v2", "v3"):
        raise ConfigError("WECHAT_PAY_VERSION must be v2 or v3")
    if version == "v2":
        return version, None

    def read(name: str, path: str) -> bytes:
        try:
            data = Path(path).read_bytes()
        except OSError:
            raise ConfigError(f"{name} does not name a readable file") from None
        if production and (Path(path).parent / V3_SANDBOX_MARKER).exists():
            raise ConfigError(f"{name} names the sandbox's key material: not for production")
        return data

    api_v3_key = get("WECHAT_PAY_V3_KEY")
    if api_v3_key is None or len(api_v3_key) != 32 or not api_v3_key.isascii():
        raise ConfigError("WECHAT_PAY_V3_KEY must be the 32-character APIv3 key of the merchant")
    if key_path is None:
        raise ConfigError("WECHAT_MCH_KEY_PATH is required when WECHAT_PAY_VERSION=v3")
    key_pem = read("WECHAT_MCH_KEY_PATH", key_path)
    try:
        private = serialization.load_pem_private_key(key_pem, None)
    except (ValueError, TypeError):
        raise ConfigError("WECHAT_MCH_KEY_PATH must be an unencrypted PEM private key") from None
    if not isinstance(private, rsa.RSAPrivateKey) or private.key_size < 2048:
        raise ConfigError("WECHAT_MCH_KEY_PATH must be an RSA key of at least 2048 bits")
    serial = get("WECHAT_MCH_CERT_SERIAL")
    if serial is not None and not _CERT_SERIAL.match(serial):
        raise ConfigError("WECHAT_MCH_CERT_SERIAL must be the certificate's serial in hex")
    if cert_path is not None:
        cert_pem = read("WECHAT_MCH_CERT_PATH", cert_path)
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError:
            raise ConfigError("WECHAT_MCH_CERT_PATH must be a PEM certificate") from None
        if cert.public_key() != private.public_key():
            raise ConfigError("WECHAT_MCH_CERT_PATH does not match WECHAT_MCH_KEY_PATH")
        names = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
        if production and any(n.value == V3_SANDBOX_ORGANIZATION for n in names):
            raise ConfigError("WECHAT_MCH_CERT_PATH is the sandbox's certificate")
        serial = serial or format(cert.serial_number, "X")
    if serial is None:
        raise ConfigError("WECHAT_MCH_CERT_PATH (or WECHAT_MCH_CERT_SERIAL) is required for v3")

    public_path, public_id = get("WECHAT_PAY_PUBLIC_KEY_PATH"), get("WECHAT_PAY_PUBLIC_KEY_ID")
    certs_dir = get("WECHAT_PAY_PLATFORM_CERTS_DIR")
    if (public_path is None) != (public_id is None):
        raise ConfigError("give WECHAT_PAY_PUBLIC_KEY_PATH and WECHAT_PAY_PUBLIC_KEY_ID together")
    if public_path is None and certs_dir is None:
        raise ConfigError(
            "WECHAT_PAY_VERSION=v3 needs WECHAT_PAY_PUBLIC_KEY_PATH and WECHAT_PAY_PUBLIC_KEY_ID "
            "(WeChat Pay public key) or WECHAT_PAY_PLATFORM_CERTS_DIR (platform certificates)"
        )
    if public_path is not None and public_id is not None:
        if not _PUBLIC_KEY_ID.match(public_id):
            raise ConfigError("WECHAT_PAY_PUBLIC_KEY_ID must look like PUB_KEY_ID_0114232134…")
        public_pem = read("WECHAT_PAY_PUBLIC_KEY_PATH", public_path)
        try:
            public = serialization.load_pem_public_key(public_pem)
        except ValueError:
            raise ConfigError("WECHAT_PAY_PUBLIC_KEY_PATH must be a PEM public key") from None
        if not isinstance(public, rsa.RSAPublicKey):
            raise ConfigError("WECHAT_PAY_PUBLIC_KEY_PATH must be an RSA public key")
    if certs_dir is not None:
        pems = sorted(Path(certs_dir).glob("*.pem")) if Path(certs_dir).is_dir() else []
        if not pems:
            raise ConfigError(
                "WECHAT_PAY_PLATFORM_CERTS_DIR must be a folder of *.pem certificates"
            )
        for pem in pems:
            cert_pem = read("WECHAT_PAY_PLATFORM_CERTS_DIR", str(pem))
            try:
                x509.load_pem_x509_certificate(cert_pem)
            except ValueError:
                raise ConfigError(
                    f"WECHAT_PAY_PLATFORM_CERTS_DIR: {pem.name} is no PEM certificate"
                ) from None
    return version, PayV3Settings(
        api_v3_key=api_v3_key,
        merchant_serial=serial.upper().lstrip("0") or "0",
        public_key_path=public_path,
        public_key_id=public_id,
        platform_certs_dir=certs_dir,
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
