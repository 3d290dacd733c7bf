"""Text rules shared by every input: no control or invisible characters."""

from __future__ import annotations

import re

#: control characters (line breaks included) and invisible formatting characters
CONTROL_CHARACTERS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
)


def has_control_characters(value: str, *, allow_newlines: bool = False) -> bool:
    """Whether `value` holds a control or invisible character (line breaks if not allowed)."""
    if allow_newlines:
        value = value.replace("\r\n", "").replace("\n", "")
    return CONTROL_CHARACTERS.search(value) is not None
