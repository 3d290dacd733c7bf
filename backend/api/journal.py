"""The sealed journal's head, published for anyone to note and compare."""

from __future__ import annotations

from backend.api.base import Blueprint
from backend.api.schemas.journal import JournalHeadSchema
from backend.ledger.sealing import PublishedHead, published_head

blp = Blueprint("journal", __name__, description="账本封印")

#: the head changes every few seconds; caches may keep it that long
HEAD_CACHE_CONTROL = "public, max-age=5"


@blp.get("/ledger/head")
@blp.response(200, JournalHeadSchema)
def journal_head() -> tuple[PublishedHead, dict[str, str]]:
    """The newest seal of the journal (`flask ledger verify` recomputes the chain to it)."""
    return published_head(), {"Cache-Control": HEAD_CACHE_CONTROL}
