"""AEAD_AES_256_GCM as WeChat Pay v3 encrypts notification resources.

Key: the APIv3 key's 32 ASCII bytes; nonce: 12 ASCII characters, sent in the clear;
associated_data sent in the clear too (may be empty); ciphertext: base64 of the
encrypted bytes followed by the 16-byte tag (what AESGCM returns).
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def encrypt(api_v3_key: str, nonce: str, associated_data: str, plaintext: str) -> str:
    """The base64 ciphertext (with tag) of `plaintext` (UTF-8)."""
    sealed = AESGCM(api_v3_key.encode("ascii")).encrypt(
        nonce.encode("ascii"), plaintext.encode("utf-8"), associated_data.encode("utf-8")
    )
    return base64.b64encode(sealed).decode("ascii")


def decrypt(api_v3_key: str, nonce: str, associated_data: str, ciphertext: str) -> str:
    """The plaintext of a base64 ciphertext; cryptography's InvalidTag when it is not genuine."""
    opened = AESGCM(api_v3_key.encode("ascii")).decrypt(
        nonce.encode("ascii"), base64.b64decode(ciphertext), associated_data.encode("utf-8")
    )
    return opened.decode("utf-8")
