"""Derivatives go straight to a storage, under ``{prefix}/{item_id}/files/{slot_id}/``.

That storage is the item's own (read-write), or the ``derivatives_storage`` a read-only storage
names: its originals are only read, and the slot records where its derivatives went. A storage
without a prefix gets ``moorage/`` as that prefix: derivatives never land at the bucket's root
among the customer's own folders (docs/storage.md). The keys written are stored on the slot and
its sections, so serving reads them from there, never from this rule.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from moorage.context import StorageRegistry
from moorage.models import StorageConfig
from moorage.storage.base import StorageAdapter, StorageError, join_key
from moorage.storages.repository import storage_repository

__all__ = [
    "DEFAULT_PREFIX",
    "NoDerivativesStorage",
    "StorageSink",
    "derivatives_prefix",
    "derivatives_sink",
    "slot_folder",
]

#: where a read-write storage without a prefix gets its derivatives
DEFAULT_PREFIX = "moorage"


def derivatives_prefix(prefix: str) -> str:
    """The folder every derivative of a storage with this ``prefix`` goes under."""
    return prefix.strip("/") or DEFAULT_PREFIX


def slot_folder(prefix: str, item_id: object, slot_id: object) -> str:
    return join_key(derivatives_prefix(prefix), str(item_id), "files", str(slot_id))


class StorageSink:
    def __init__(self, adapter: StorageAdapter, folder: str, storage_id: int | None = None) -> None:
        self.adapter = adapter
        self.folder = folder
        #: the storage written to when it is not the item's own (``Slot.derivatives_storage_id``)
        self.storage_id = storage_id
        self.written: list[str] = []

    def key(self, name: str) -> str:
        return join_key(self.folder, name)

    def put(self, name: str, data: bytes, content_type: str) -> None:
        key = self.key(name)
        self.adapter.put(key, data, content_type=content_type)
        self.written.append(key)


class NoDerivativesStorage(StorageError):
    reason = "STORAGE_READ_ONLY"


def derivatives_sink(
    session: Session,
    registry: StorageRegistry,
    storage: StorageConfig,
    *,
    item_id: object,
    slot_id: object,
    originals: StorageAdapter,
) -> StorageSink:
    """Where the derivatives of one slot of an item of ``storage`` are written.

    Never into a read-only storage: without a derivatives storage of the same team that is an
    error of the job, not a write.
    """
    if not storage.readonly:
        return StorageSink(originals, slot_folder(storage.prefix, item_id, slot_id))
    target = (
        storage_repository.get_by_id(session, storage.team_id, storage.derivatives_storage_id)
        if storage.derivatives_storage_id is not None
        else None
    )
    if target is None or target.readonly:
        raise NoDerivativesStorage(
            f"Storage {storage.slug!r} is read-only and names no (read-write) "
            "derivatives_storage: moorage writes nothing there."
        )
    adapter = registry.adapter_for(session, target)
    return StorageSink(adapter, slot_folder(target.prefix, item_id, slot_id), target.id)
