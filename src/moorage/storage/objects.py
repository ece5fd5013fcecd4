"""What a storage holds (``ObjectInfo``, ``ListPage``) and how a key addresses it."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import datetime

from moorage.storage.errors import InvalidKey

__all__ = ["MAX_KEY_BYTES", "ListPage", "ObjectInfo", "join_key", "validate_key"]

MAX_KEY_BYTES = 1024


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None = None
    content_type: str | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class ListPage:
    objects: list[ObjectInfo] = field(default_factory=list)
    next_cursor: str | None = None


def validate_key(key: object) -> str:
    """Check a storage key is usable as given; keys are used byte for byte otherwise.

    Refuses empty keys, absolute keys, ``..`` segments, NUL bytes and over-long keys, so a key
    can never address anything outside its bucket or local root.
    """
    if not isinstance(key, str) or key == "":
        raise InvalidKey("The storage key is empty.", key=None)
    if key.startswith("/") or key.startswith("\\"):
        raise InvalidKey(
            f"The storage key {key!r} is absolute; give it relative to the bucket.", key=key
        )
    if "\x00" in key:
        raise InvalidKey("The storage key contains a NUL character.", key=key)
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidKey(f"The storage key is longer than {MAX_KEY_BYTES} bytes.", key=key)
    if ".." in key.replace("\\", "/").split("/"):
        raise InvalidKey(
            f"The storage key {key!r} contains a '..' segment; keys cannot leave the bucket.",
            key=key,
        )
    return key


def join_key(prefix: str, *parts: str) -> str:
    """Join a storage prefix and relative parts with single slashes."""
    joined = posixpath.join(prefix.strip("/"), *[p.strip("/") for p in parts])
    return joined.lstrip("/")
