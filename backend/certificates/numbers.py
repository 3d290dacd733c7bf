"""Certificate numbers: deterministic, one per donation, not guessable from another's.

The format (28 characters or more, upper case, safe in a URL path)::

    LS20261130-00000042-7K9QH2XA
    │ │        │        └─ check: the first 40 bits of HMAC-SHA256(SECRET_KEY,
    │ │        │           "linshan-certificate/1|<donation id>|<yyyymmdd>") in Crockford's
    │ │        │           base32 (digits and A–Z without I, L, O, U), 8 characters
    │ │        └─ the donation's id, zero-padded to 8 digits (more digits past 99,999,999)
    │ └─ the Beijing day the payment arrived (`paid_at`), yyyymmdd
    └─ 邻善

Nothing is stored: the number is recomputed from the donation, and a number is read back
by its id and day and accepted only when its check matches (compared in constant time), so
changing any digit of someone's number, or counting ids, finds no certificate. Changing
SECRET_KEY changes every number (certificates already shared stop verifying).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app

from backend.common.time import BEIJING

PREFIX = "LS"
#: the donation id's digits at least (zero-padded)
ID_DIGITS = 8
#: characters of the check code (5 bits each)
CHECK_CHARS = 8
#: Crockford's base32: no I, L, O or U to misread
CHECK_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: the longest number read back (a bigint id has 19 digits)
MAX_LENGTH = len(PREFIX) + 8 + 1 + 19 + 1 + CHECK_CHARS
NUMBER_PATTERN = re.compile(
    rf"{PREFIX}(?P<day>\d{{8}})-(?P<id>\d{{{ID_DIGITS},19}})-(?P<check>[{CHECK_ALPHABET}]{{{CHECK_CHARS}}})"
)


@dataclass(frozen=True)
class NumberParts:
    """What a well-formed number says: the donation's id and the day it was paid."""

    donation_id: int
    paid_on: date


def paid_day(paid_at: datetime) -> date:
    """The Beijing day of a payment."""
    return paid_at.astimezone(BEIJING).date()


def check_code(donation_id: int, paid_on: date) -> str:
    """The number's check: an HMAC with the app's SECRET_KEY, in base32."""
    key = current_app.config["SECRET_KEY"]
    key_bytes = key.encode() if isinstance(key, str) else key
    message = f"linshan-certificate/1|{donation_id}|{paid_on:%Y%m%d}".encode()
    value = int.from_bytes(hmac.new(key_bytes, message, hashlib.sha256).digest()[:5])
    return "".join(
        CHECK_ALPHABET[(value >> shift) & 0x1F] for shift in range(5 * (CHECK_CHARS - 1), -1, -5)
    )


def certificate_number(donation_id: int, paid_at: datetime) -> str:
    """The certificate number of the donation paid at `paid_at`."""
    day = paid_day(paid_at)
    return f"{PREFIX}{day:%Y%m%d}-{donation_id:0{ID_DIGITS}d}-{check_code(donation_id, day)}"


def read_number(number: str) -> NumberParts | None:
    """The id and day of a genuine number (its check matches); None for anything else."""
    number = number.strip().upper()
    if len(number) > MAX_LENGTH:
        return None
    match = NUMBER_PATTERN.fullmatch(number)
    if match is None:
        return None
    try:
        day = date(int(match["day"][:4]), int(match["day"][4:6]), int(match["day"][6:]))
    except ValueError:
        return None
    donation_id = int(match["id"])
    if donation_id < 1 or match["id"] != f"{donation_id:0{ID_DIGITS}d}":
        return None  # one number per donation: no extra leading zeros
    if not hmac.compare_digest(match["check"], check_code(donation_id, day)):
        return None
    return NumberParts(donation_id, day)
