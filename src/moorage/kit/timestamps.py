"""The one form of every timestamp moorage answers with: RFC 3339 in UTC with ``Z``.

``2026-12-01T10:57:10.007674Z``, always with microseconds, whatever the engine hands back
(SQLite: naive UTC; PostgreSQL: aware, in the session's time zone). orjson formats it (~5x
faster than ``isoformat``: registration renders two per item).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

__all__ = ["rfc3339"]

_AS_UTC_Z = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def rfc3339(value: datetime | None) -> str | None:
    """``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; a naive value is taken as UTC."""
    if value is None:
        return None
    if value.utcoffset():
        value = value.astimezone(UTC)
    text = orjson.dumps(value, option=_AS_UTC_Z)[1:-1].decode()
    # orjson leaves the fraction out at a whole second: keep one fixed width
    return text if len(text) == 27 else text[:-1] + ".000000Z"
