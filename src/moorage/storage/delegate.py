"""An adapter that hands every call to another one: the base of adapters that change a few."""

from __future__ import annotations

from typing import BinaryIO

from moorage.storage.base import ListPage, ObjectInfo, StorageAdapter

__all__ = ["DelegatingAdapter"]


class DelegatingAdapter(StorageAdapter):
    """Every call goes to ``inner``; a subclass overrides the ones it changes."""

    def __init__(self, inner: StorageAdapter) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.max_concurrency = inner.max_concurrency
        self.list_for_existence = inner.list_for_existence

    def check_key(self, key: str) -> str:
        return self.inner.check_key(key)

    def head(self, key: str) -> ObjectInfo:
        return self.inner.head(key)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        return self.inner.read_range(key, start, end)

    def open_read(self, key: str) -> BinaryIO:
        return self.inner.open_read(key)

    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        self.inner.put(key, data, content_type=content_type)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list_page(self, prefix: str, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        return self.inner.list_page(prefix, cursor=cursor, limit=limit)

    def sign_url(self, key: str, *, expires_in: int) -> str | None:
        return self.inner.sign_url(key, expires_in=expires_in)

    def close(self) -> None:
        """The inner adapter belongs to whoever made it: it is not closed here."""
