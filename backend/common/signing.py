"""Serializers signed with SECRET_KEY whose timestamps come from the app's clock."""

from __future__ import annotations

from flask import current_app
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from backend.common.time import utcnow


class ClockSigner(TimestampSigner):
    """Timestamps from `backend.common.time`, so tests can age a signature without sleeping."""

    def get_timestamp(self) -> int:
        return int(utcnow().timestamp())


def timed_serializer(salt: str) -> URLSafeTimedSerializer:
    """A URL-safe, timestamped serializer for one purpose (`salt`)."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt, signer=ClockSigner)
