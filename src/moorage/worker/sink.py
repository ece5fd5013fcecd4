"""Derivatives go straight to the storage, under ``{prefix}/{item_id}/files/{slot_id}/``.

A storage without a prefix gets ``moorage/`` as that prefix: derivatives never land at the
bucket's root among the customer's own folders (docs/storage.md). The keys written are stored
on the slot and its sections, so serving reads them from there, never from this rule.
"""

from __future__ import annotations

from moorage.storage.base import StorageAdapter, join_key

__all__ = ["DEFAULT_PREFIX", "StorageSink", "derivatives_prefix", "slot_folder"]

#: where a read-write storage without a prefix gets its derivatives
DEFAULT_PREFIX = "moorage"


def derivatives_prefix(prefix: str) -> str:
    """The folder every derivative of a storage with this ``prefix`` goes under."""
    return prefix.strip("/") or DEFAULT_PREFIX


def slot_folder(prefix: str, item_id: object, slot_id: object) -> str:
    return join_key(derivatives_prefix(prefix), str(item_id), "files", str(slot_id))


class StorageSink:
    def __init__(self, adapter: StorageAdapter, folder: str) -> None:
        self.adapter = adapter
        self.folder = folder
        self.written: list[str] = []

    def key(self, name: str) -> str:
        return join_key(self.folder, name)

    def put(self, name: str, data: bytes, content_type: str) -> None:
        key = self.key(name)
        self.adapter.put(key, data, content_type=content_type)
        self.written.append(key)
