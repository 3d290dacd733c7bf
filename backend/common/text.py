"""Text rules shared by every input: no control or invisible characters."""

from __future__ import annotations

import re

#: C0 and C1 controls (line breaks included), DEL, zero-width and bidi formatting
#: characters, line and paragraph separators, the byte-order mark: refused in input and
#: escaped in the log
CONTROL_CHARACTERS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)


def has_control_characters(value: str, *, allow_newlines: bool = False) -> bool:
    """Whether `value` holds a control or invisible character (line breaks if not allowed)."""
    if allow_newlines:
        value = value.replace("\r\n", "").replace("\n", "")
    return CONTROL_CHARACTERS.search(value) is not None
