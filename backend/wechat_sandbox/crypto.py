"""The encryption of a refund notice's `req_info`, from WeChat Pay's refund-notify page.

AES-256-ECB with PKCS#7 padding, keyed with the lowercase hex MD5 of the API key
(32 ASCII bytes), then base64.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def req_info_key(api_key: str) -> bytes:
    """The AES key: md5(API key) as 32 lowercase hex characters."""
    return hashlib.md5(api_key.encode("utf-8")).hexdigest().encode("ascii")  # noqa: S324


def encrypt_req_info(plain_xml: str, api_key: str) -> str:
    """Encrypt the `<root>...</root>` document of a refund notice."""
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain_xml.encode("utf-8")) + padder.finalize()
    # ECB is WeChat's choice for this field, not ours.
    encryptor = Cipher(algorithms.AES(req_info_key(api_key)), modes.ECB()).encryptor()  # noqa: S305
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")
