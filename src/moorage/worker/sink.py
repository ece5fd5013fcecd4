"""Derivatives go straight to the storage, under ``{prefix}/{item_id}/files/{slot_id}/``."""

from __future__ import annotations

from moorage.storage.base import StorageAdapter, join_key


def slot_folder(prefix: str, item_id: object, slot_id: object) -> str:
    return join_key(prefix, str(item_id), "files", str(slot_id))


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
