"""An in-memory adapter: the built-in fake for fast unit tests."""

from __future__ import annotations

import hashlib
import io
import threading
from typing import BinaryIO

from moorage.storage.base import ListPage, ObjectInfo, ObjectNotFound, StorageAdapter, validate_key

__all__ = ["MemoryStorage"]


class MemoryStorage(StorageAdapter):
    provider = "memory"
    max_concurrency = 1

    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self._objects: dict[str, tuple[bytes, str | None]] = {
            k: (v, None) for k, v in (objects or {}).items()
        }
        self._lock = threading.Lock()

    def _get(self, key: str) -> tuple[bytes, str | None]:
        validate_key(key)
        try:
            return self._objects[key]
        except KeyError:
            raise ObjectNotFound(f"No object at storage key {key!r}.", key=key) from None

    def head(self, key: str) -> ObjectInfo:
        data, ctype = self._get(key)
        return ObjectInfo(
            key=key,
            size=len(data),
            etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            content_type=ctype,
        )

    def read_range(self, key: str, start: int, end: int) -> bytes:
        return self._get(key)[0][start:end]

    def open_read(self, key: str) -> BinaryIO:
        return io.BytesIO(self._get(key)[0])

    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        validate_key(key)
        with self._lock:
            self._objects[key] = (bytes(data), content_type)

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)

    def list_page(self, prefix: str, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        keys = sorted(
            k for k in self._objects if k.startswith(prefix) and (cursor is None or k > cursor)
        )
        page = keys[:limit]
        return ListPage(
            objects=[self.head(k) for k in page],
            next_cursor=page[-1] if len(keys) > limit else None,
        )

    def sign_url(self, key: str, *, expires_in: int) -> str | None:
        return None
