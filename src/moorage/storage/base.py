"""The one storage interface every provider implements.

Adapters know nothing of HTTP or the database. They raise the neutral ``StorageError``
subclasses below; the service layer turns them into blocked items or API errors.
"""

from __future__ import annotations

import abc
import posixpath
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

__all__ = [
    "AccessDenied",
    "BucketNotFound",
    "InvalidCredentials",
    "InvalidKey",
    "ListPage",
    "ObjectInfo",
    "ObjectNotFound",
    "StorageAdapter",
    "StorageError",
    "StorageUnavailable",
    "validate_key",
]

MAX_KEY_BYTES = 1024


class StorageError(Exception):
    """Base of every storage failure. ``reason`` is a stable UPPER_SNAKE code."""

    reason = "STORAGE_ERROR"
    retryable = False

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


class ObjectNotFound(StorageError):
    reason = "STORAGE_KEY_NOT_FOUND"


class InvalidKey(StorageError):
    reason = "INVALID_STORAGE_KEY"


class AccessDenied(StorageError):
    reason = "STORAGE_ACCESS_DENIED"


class InvalidCredentials(StorageError):
    reason = "STORAGE_INVALID_CREDENTIALS"


class BucketNotFound(StorageError):
    reason = "STORAGE_BUCKET_NOT_FOUND"


class StorageUnavailable(StorageError):
    """Transient: timeouts, throttling, 5xx. Worth retrying with backoff."""

    reason = "STORAGE_UNAVAILABLE"
    retryable = True


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


class StorageAdapter(abc.ABC):
    """A bucket (or local folder) seen through one small interface.

    Keys are relative to the bucket (S3, GCS, local) or include the container (Azure), exactly
    as the Darwin contract gives them.
    """

    provider: str = "abstract"
    #: how many existence checks may be in flight at once for this provider
    max_concurrency: int = 64

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Size, etag and content type of one object; raises ``ObjectNotFound``."""

    @abc.abstractmethod
    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of an object (fewer at the end of the object)."""

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """A readable stream of the whole object. The caller closes it."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        """Write (or overwrite) one object."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete one object; deleting a missing object is not an error."""

    @abc.abstractmethod
    def list_page(self, prefix: str, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        """One page of objects whose key starts with ``prefix``."""

    @abc.abstractmethod
    def sign_url(self, key: str, *, expires_in: int) -> str | None:
        """A time-limited GET URL, or ``None`` when the server streams the object itself."""

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except ObjectNotFound:
            return False
        return True

    def check_many(self, keys: Iterable[str]) -> dict[str, StorageError | None]:
        """Existence of many keys at once, concurrently with a bounded pool.

        Returns ``None`` for a key that exists, otherwise the error that blocks it
        (``ObjectNotFound``, ``InvalidKey``, ``StorageUnavailable``...). Never raises for one key.
        """
        unique: Sequence[str] = list(dict.fromkeys(keys))
        if not unique:
            return {}

        def one(key: str) -> StorageError | None:
            try:
                validate_key(key)
                self.head(key)
            except StorageError as exc:
                return exc
            return None

        workers = max(1, min(self.max_concurrency, len(unique)))
        if workers == 1:
            return {key: one(key) for key in unique}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="storage-check") as pool:
            return dict(zip(unique, pool.map(one, unique), strict=True))

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; adapters without any need not override it."""
