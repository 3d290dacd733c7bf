"""WeChat Pay's flat XML documents: `<xml><field><![CDATA[value]]></field>...</xml>`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

MAX_XML_BYTES = 64 * 1024
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class XmlRejected(ValueError):
    """A document that is not a flat WeChat XML document, or not a safe one."""


def parse_flat_xml(data: bytes, root: str = "xml") -> dict[str, str]:
    """Parse a flat document into {field: text}; refuse DTDs, entities, nesting, big bodies."""
    if not data or not data.strip():
        raise XmlRejected("empty document")
    if len(data) > MAX_XML_BYTES:
        raise XmlRejected("document too large")
    if _FORBIDDEN.search(data):
        raise XmlRejected("DOCTYPE and ENTITY declarations are refused")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise XmlRejected("not UTF-8") from exc
    try:
        element = ET.fromstring(data)  # noqa: S314 - DTDs refused above, size bounded
    except ET.ParseError as exc:
        raise XmlRejected(f"malformed XML: {exc}") from exc
    if element.tag != root:
        raise XmlRejected(f"root element is <{element.tag}>, not <{root}>")
    fields: dict[str, str] = {}
    for child in element:
        if len(child):
            raise XmlRejected(f"<{child.tag}> is not a flat field")
        if child.tag in fields:
            raise XmlRejected(f"<{child.tag}> appears twice")
        fields[child.tag] = child.text or ""
    return fields


def _cdata(text: str) -> str:
    """Wrap text in CDATA, splitting any `]]>` it holds."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_flat_xml(fields: Mapping[str, object], root: str = "xml") -> str:
    """Render {field: value} as WeChat does: integers bare, text in CDATA."""
    parts = [f"<{root}>"]
    for name, value in fields.items():
        if value is None:
            continue
        if not _NAME.match(name):
            raise ValueError(f"bad field name {name!r}")
        text = str(value) if isinstance(value, int) else _cdata(str(value))
        parts.append(f"<{name}>{text}</{name}>")
    parts.append(f"</{root}>")
    return "".join(parts)
