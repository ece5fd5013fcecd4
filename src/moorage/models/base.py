from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
#: a 64-bit autoincrement key that is SQLite's rowid there
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def column_width(column: Any) -> int:
    """The declared width of a ``String(n)`` column: PostgreSQL refuses longer values, SQLite
    stores them, so input is held to it before it reaches either."""
    kind = column.property.columns[0].type if hasattr(column, "property") else column.type
    if not isinstance(kind, String) or kind.length is None:
        raise TypeError(f"{column} is not a String(n) column")
    return kind.length


#: version 4, RFC 4122 variant: the bits ``uuid.UUID(version=4)`` clears and sets
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (4 << 76) | (0x8000 << 48)
#: version 7 (RFC 9562 section 5.7): the 48-bit Unix time in ms on top, then the version, 12
#: random bits, the variant and 62 random bits
_V7_RANDOM = (1 << 74) - 1
_V7_SET = (7 << 76) | (0x8000 << 48)


def new_uuids(count: int, *, ascending: bool = False) -> list[uuid.UUID]:
    """``count`` random UUIDs from one read of the OS's random source.

    ``uuid.uuid4()`` (one ``os.urandom`` call and a validating ``UUID.__init__`` each) was 7-14%
    of a registration's own time, at three ids an item; this builds the same values the way the
    ``uuid`` module builds its own (``UUID`` has ``__slots__`` ``int`` and ``is_safe``).

    ``ascending``: version 7 ids (the time on top, 74 random bits below it), handed out in
    increasing order, so that rows written in the order they get their ids go into each id
    index (and are found by each foreign key check) one after the other, within a request and
    from one request to the next, instead of at random places of an index that outgrows the
    database's cache (decision 0042). Otherwise version 4.
    """
    data = os.urandom(16 * count)
    if ascending:
        top = (time.time_ns() // 1_000_000) << 80 | _V7_SET
        ints = sorted(
            top | _v7_spread(int.from_bytes(data[start : start + 16]) & _V7_RANDOM)
            for start in range(0, 16 * count, 16)
        )
    else:
        ints = [
            int.from_bytes(data[start : start + 16]) & _V4_CLEAR | _V4_SET
            for start in range(0, 16 * count, 16)
        ]
    new, put, unknown = object.__new__, object.__setattr__, uuid.SafeUUID.unknown
    out: list[uuid.UUID] = []
    for number in ints:
        value = new(uuid.UUID)
        put(value, "int", number)
        put(value, "is_safe", unknown)
        out.append(value)
    return out


def _v7_spread(bits: int) -> int:
    """74 random bits into their places: 12 under the version, 62 under the variant."""
    return (bits >> 62) << 64 | (bits & ((1 << 62) - 1))


def new_uuid() -> uuid.UUID:
    """One random (version 4) UUID."""
    return uuid.UUID(bytes=os.urandom(16), version=4)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONType, datetime: DateTime(timezone=True)}
