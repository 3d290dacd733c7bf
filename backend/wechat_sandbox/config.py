"""Settings of the WeChat sandbox: the app and merchant it plays WeChat for."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

# Development credentials used when the WECHAT_* variables are unset. They are public
# sandbox values, not secrets: the backend's development defaults are the same strings.
DEFAULT_APPID = "wx0000000000sandbox"
DEFAULT_SECRET = "sandbox-app-secret"  # noqa: S105 - public sandbox value
DEFAULT_MCH_ID = "1900000109"
DEFAULT_PAY_KEY = "sandboxpaykey0000000000000000000"
DEFAULT_PORT = 5055
DEFAULT_TIME_FACTOR = 60.0
DEFAULT_MESSAGE_TOKEN = "sandbox-message-token"  # noqa: S105 - public sandbox value

# Content-security labels of msgSecCheck/mediaCheckAsync version 2.
LABEL_NORMAL = 100
LABEL_OTHER = 21000
# word -> label: 20002 porn, 20003 abuse, 20006 crime, 20008 fraud.
DEFAULT_FLAGGED_WORDS: Mapping[str, int] = {
    "赌博": 20006,
    "诈骗": 20008,
    "毒品": 20006,
    "色情": 20002,
    "辱骂": 20003,
}
DEFAULT_REVIEW_WORDS = ("人工复核",)

# WeChat Pay's documented notification schedule: the first notice at once, then these gaps.
PAY_RETRY_SCHEDULE: tuple[float, ...] = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)
# WeChat's message push retries three times when it gets no answer within five seconds.
PUSH_RETRY_SCHEDULE: tuple[float, ...] = (5, 5, 5)


def parse_words(text: str) -> dict[str, int]:
    """Parse `word[:label],...` into a word -> label map (label 21000 when omitted)."""
    words: dict[str, int] = {}
    for item in text.split(","):
        word, _, label = item.strip().partition(":")
        word = word.strip()
        if not word:
            continue
        words[word] = int(label) if label.strip().isdigit() else LABEL_OTHER
    return words


@dataclass(frozen=True)
class SandboxConfig:
    """What the sandbox needs to know; immutable, replaced whole by the config control call."""

    appid: str = DEFAULT_APPID
    secret: str = DEFAULT_SECRET
    mch_id: str = DEFAULT_MCH_ID
    pay_key: str = DEFAULT_PAY_KEY
    #: Notification delays and other waits are divided by this.
    time_factor: float = DEFAULT_TIME_FACTOR
    #: Text containing one of these is "risky", with the given label.
    flagged_words: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_FLAGGED_WORDS))
    #: Text containing one of these is "review".
    review_words: tuple[str, ...] = DEFAULT_REVIEW_WORDS
    #: Where wxa_media_check events are pushed (the mini-program's message push URL).
    media_callback_url: str | None = None
    #: Token of the message push, used to sign pushes (signature/timestamp/nonce).
    message_token: str = DEFAULT_MESSAGE_TOKEN
    #: Seconds an access token lives.
    token_ttl: int = 7200
    #: Timeout of one notification or push request, in real seconds.
    delivery_timeout: float = 5.0
    #: Real seconds (before the time factor) before a media check result is pushed.
    media_check_seconds: float = 3.0
    #: Real seconds (before the time factor) before a refund succeeds and is notified.
    refund_settle_seconds: float = 60.0
    pay_retry_schedule: tuple[float, ...] = PAY_RETRY_SCHEDULE
    push_retry_schedule: tuple[float, ...] = PUSH_RETRY_SCHEDULE
    #: WeChat Pay APIv3 (all None: v3 is not served). The APIv3 key, 32 ASCII characters.
    v3_key: str | None = None
    #: The merchant API certificate (PEM) whose key signs the merchant's v3 requests.
    mch_cert_path: str | None = None
    #: The serial_no requests must name (default: the certificate's own serial).
    mch_cert_serial: str | None = None
    #: The sandbox's own private key (PEM), signing v3 answers and notifications.
    pay_private_key_path: str | None = None
    #: Wechatpay-Serial of the sandbox's signatures in public-key mode (PUB_KEY_ID_...).
    pay_public_key_id: str | None = None
    #: Platform-certificate mode: the certificate here matching the private key names it.
    platform_certs_dir: str | None = None

    def __post_init__(self) -> None:
        """Refuse settings WeChat itself could never have."""
        if len(self.pay_key) != 32:
            raise ValueError("WECHAT_PAY_KEY must be 32 characters, as WeChat Pay's API key is")
        if self.time_factor <= 0:
            raise ValueError("SANDBOX_TIME_FACTOR must be positive")
        if self.v3_key is not None:
            if len(self.v3_key) != 32 or not self.v3_key.isascii():
                raise ValueError("WECHAT_PAY_V3_KEY must be 32 ASCII characters")
            if not (self.mch_cert_path and self.pay_private_key_path):
                raise ValueError(
                    "WeChat Pay v3 needs WECHAT_MCH_CERT_PATH and SANDBOX_PAY_PRIVATE_KEY_PATH"
                )
            if not (self.pay_public_key_id or self.platform_certs_dir):
                raise ValueError(
                    "WeChat Pay v3 needs WECHAT_PAY_PUBLIC_KEY_ID or WECHAT_PAY_PLATFORM_CERTS_DIR"
                )

    @property
    def v3_enabled(self) -> bool:
        """Whether the sandbox serves WeChat Pay APIv3 (`/v3/...`) beside v2."""
        return self.v3_key is not None

    @property
    def original_id(self) -> str:
        """The mini-program's original id (gh_...), the ToUserName of pushes."""
        return "gh_" + hashlib.sha256(self.appid.encode()).hexdigest()[:12]

    def scaled(self, seconds: float) -> float:
        """Real seconds to wait for `seconds` of WeChat time."""
        return seconds / self.time_factor

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxConfig:
        """Read WECHAT_* and SANDBOX_* variables, with development defaults."""
        env = os.environ if environ is None else environ
        words = env.get("SANDBOX_FLAGGED_WORDS")
        review = env.get("SANDBOX_REVIEW_WORDS")
        return cls(
            appid=env.get("WECHAT_APPID") or DEFAULT_APPID,
            secret=env.get("WECHAT_SECRET") or DEFAULT_SECRET,
            mch_id=env.get("WECHAT_MCH_ID") or DEFAULT_MCH_ID,
            pay_key=env.get("WECHAT_PAY_KEY") or DEFAULT_PAY_KEY,
            time_factor=float(env.get("SANDBOX_TIME_FACTOR") or DEFAULT_TIME_FACTOR),
            flagged_words=parse_words(words) if words else dict(DEFAULT_FLAGGED_WORDS),
            review_words=tuple(parse_words(review)) if review else DEFAULT_REVIEW_WORDS,
            media_callback_url=env.get("SANDBOX_MEDIA_CALLBACK_URL") or None,
            message_token=env.get("SANDBOX_MESSAGE_TOKEN") or DEFAULT_MESSAGE_TOKEN,
            v3_key=env.get("WECHAT_PAY_V3_KEY") or None,
            mch_cert_path=env.get("WECHAT_MCH_CERT_PATH") or None,
            mch_cert_serial=env.get("WECHAT_MCH_CERT_SERIAL") or None,
            pay_private_key_path=env.get("SANDBOX_PAY_PRIVATE_KEY_PATH") or None,
            pay_public_key_id=env.get("WECHAT_PAY_PUBLIC_KEY_ID") or None,
            platform_certs_dir=env.get("WECHAT_PAY_PLATFORM_CERTS_DIR") or None,
        )
