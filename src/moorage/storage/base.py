"""The one storage interface every provider implements.

Adapters know nothing of HTTP or the database. They raise the neutral ``StorageError``
subclasses of ``errors.py`` (re-exported here with the key helpers of ``objects.py``); the
service layer turns them into blocked items or API errors.
"""

from __future__ import annotations

import abc
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from moorage.storage.check import check_existence
from moorage.storage.errors import (
    AccessDenied,
    BucketNotFound,
    InvalidCredentials,
    InvalidKey,
    ObjectExists,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)
from moorage.storage.objects import ListPage, ObjectInfo, join_key, validate_key

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = [
    "AccessDenied",
    "BucketNotFound",
    "ChunkReader",
    "InvalidCredentials",
    "InvalidKey",
    "ListPage",
    "ObjectExists",
    "ObjectInfo",
    "ObjectNotFound",
    "StorageAdapter",
    "StorageError",
    "StorageUnavailable",
    "Tuning",
    "join_key",
    "redact",
    "validate_key",
]


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

    def sign_put(self, key: str, *, expires_in: int) -> str | None:
        """A time-limited URL a client PUTs one object's bytes to, without credentials, or
        ``None`` when the bytes go through the server (which then calls ``put_new``)."""
        return None

    def put_new(self, key: str, stream: BinaryIO, *, content_type: str | None = None) -> None:
        """Write one object from ``stream``, never replacing one: ``ObjectExists`` if the key
        is taken. This default checks, then writes (not atomic; the local adapter is)."""
        if self.exists(key):
            raise ObjectExists(f"An object already exists at storage key {key!r}.", key=key)
        self.put(key, stream.read(), content_type=content_type)

    def local_path(self, key: str) -> Path | None:
        """The file on this server's disk that holds the object, if it is one (local storage).

        Raises ``ObjectNotFound`` when the object is missing; ``None`` means "not a local file".
        """
        return None

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except ObjectNotFound:
            return False
        return True

    #: whether ``check_many`` may list a shared prefix instead of one head per key
    list_for_existence: bool = False

    def check_key(self, key: str) -> str:
        """Refuse a key this provider cannot address byte for byte (``InvalidKey``)."""
        return validate_key(key)

    def check_many(self, keys: Iterable[str]) -> dict[str, StorageError | None]:
        """Existence of many keys at once, concurrently with a bounded pool.

        Returns ``None`` for a key that exists, otherwise the error that blocks it
        (``ObjectNotFound``, ``InvalidKey``, ``StorageUnavailable``...). Never raises for one key.
        Keys sharing a prefix may be answered by listing it (see ``moorage.storage.check``).
        """
        return check_existence(self, keys)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; adapters without any need not override it."""


class ChunkReader(io.RawIOBase):
    """A read-only binary stream over an iterator of chunks.

    ``on_error`` turns a library exception raised mid-stream into a neutral ``StorageError``,
    so callers of ``open_read`` only ever see storage errors.
    """

    def __init__(
        self,
        chunks: Iterator[bytes | memoryview],
        *,
        on_error: Callable[[Exception], StorageError],
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._chunks = chunks
        self._on_error = on_error
        self._on_close = on_close
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer) -> int:
        while not self._buffer:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return 0
            except StorageError:
                raise
            except Exception as exc:
                raise self._on_error(exc) from None
            self._buffer = memoryview(chunk).cast("B")
        target = memoryview(buffer).cast("B")
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        if not self.closed and self._on_close is not None:
            self._on_close()
        super().close()


def open_chunks(reader: ChunkReader, buffer_size: int = 1 << 20) -> BinaryIO:
    """Wrap a ``ChunkReader`` in a buffered stream that satisfies ``BinaryIO``."""
    return io.BufferedReader(reader, buffer_size=buffer_size)


@dataclass(frozen=True)
class Tuning:
    """Timeouts, retries and pool size of a cloud adapter, from a spec's ``options``."""

    timeout: float = 30.0
    connect_timeout: float = 5.0
    max_retries: int = 3
    retry_timeout: float = 20.0
    max_concurrency: int = 64

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Tuning:
        return cls(
            timeout=float(options.get("timeout", 30.0)),
            connect_timeout=float(options.get("connect_timeout", 5.0)),
            max_retries=int(options.get("max_retries", 3)),
            retry_timeout=float(options.get("retry_timeout", 20.0)),
            max_concurrency=int(options.get("max_concurrency", 64)),
        )


def redact(text: str, secrets: Iterator[str] | list[str] | tuple[str, ...]) -> str:
    """``text`` with every secret value (of 4+ characters) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
