"""Schemas of the sealed journal's public head."""

from __future__ import annotations

import marshmallow as ma

from backend.api.schemas.base import BeijingDateTime


class JournalHeadSchema(ma.Schema):
    """The newest seal of the journal: anyone may note it and later check the chain holds it."""

    entry_count = ma.fields.Integer(metadata={"description": "已封存的分录数（最新封印的序号）"})
    head_hash = ma.fields.String(
        allow_none=True,
        metadata={"description": "最新封印的 SHA-256（十六进制）；尚无封印时为 null"},
    )
    sealed_at = BeijingDateTime(
        allow_none=True, metadata={"description": "最新封印的时间；尚无封印时为 null"}
    )
    unsealed_count = ma.fields.Integer(
        metadata={"description": "已记账、等待封存的分录数（通常几秒内封存）"}
    )
