"""What deleting items removes from the storages: only what moorage wrote, never an original.

moorage owns, for an item, the folder ``{derivatives_prefix}/{item_id}/`` of the storage its
derivatives went to (0021, 0024): thumbnails, sections, segments, manifests, and the uploads
it wrote for the item. The item's id is made by moorage at registration, so no caller could
name a key in that folder beforehand: an original under it is one moorage wrote (an upload).
Outside it, only the derivative keys stored on the slot and its sections that lie in the
slot's own ``{item_id}/files/{slot_id}/`` folder are deleted (items processed before 0021,
at the bucket's root). The originals (a slot's ``storage_key`` and ``source_files``) outside
the item's folder are listed in ``keep`` and never deleted, whatever else matched. Nothing is
ever deleted in a read-only storage.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from moorage.storage.base import join_key
from moorage.worker.sink import derivatives_prefix

__all__ = ["SlotFiles", "StorageInfo", "Target", "item_folder", "plan"]


@dataclass(frozen=True)
class StorageInfo:
    prefix: str
    readonly: bool


@dataclass
class SlotFiles:
    """One deleted slot, as the rows held it."""

    item_id: uuid.UUID
    slot_id: uuid.UUID
    item_storage_id: int | None
    derivatives_storage_id: int | None
    originals: list[str]
    derivative_keys: list[str]


@dataclass
class Target:
    storage_id: int
    folders: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "storage_id": self.storage_id,
            "folders": sorted(set(self.folders)),
            "keys": sorted(set(self.keys) - set(self.keep)),
            "keep": sorted(set(self.keep)),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Target:
        return cls(
            storage_id=int(raw["storage_id"]),
            folders=list(raw.get("folders", [])),
            keys=list(raw.get("keys", [])),
            keep=list(raw.get("keep", [])),
        )


def item_folder(prefix: str, item_id: object) -> str:
    """The folder moorage owns for one item in a storage (with the trailing ``/``)."""
    return join_key(derivatives_prefix(prefix), str(item_id)) + "/"


def _sink(slot: SlotFiles, storages: Mapping[int, StorageInfo]) -> int | None:
    """Where the worker wrote this slot's derivatives; None: nowhere moorage may delete."""
    sink = slot.derivatives_storage_id
    if sink is None:
        sink = slot.item_storage_id
    info = storages.get(sink) if sink is not None else None
    return sink if info is not None and not info.readonly else None


def plan(
    slots: Iterable[SlotFiles],
    storages: Mapping[int, StorageInfo],
    uploaded: Iterable[tuple[int, str]] = (),
) -> list[Target]:
    """``uploaded``: (storage id, key) of the files moorage wrote from uploads for these items;
    they are originals moorage owns, deleted with their item."""
    targets: dict[int, Target] = {}
    owned = {key for _, key in uploaded}
    for slot in slots:
        sink = _sink(slot, storages)
        if sink is None:  # read-only, no derivatives storage: supplied by the caller, kept
            continue
        target = targets.setdefault(sink, Target(sink))
        folder = item_folder(storages[sink].prefix, slot.item_id)
        target.folders.append(folder)
        own = f"{slot.item_id}/files/{slot.slot_id}/"
        target.keys.extend(k for k in slot.derivative_keys if k.startswith(own) or f"/{own}" in k)
        same_storage = sink == slot.item_storage_id
        if same_storage:
            target.keep.extend(
                k for k in slot.originals if not k.startswith(folder) and k not in owned
            )
    for storage_id, key in uploaded:
        info = storages.get(storage_id)
        if info is not None and not info.readonly:
            targets.setdefault(storage_id, Target(storage_id)).keys.append(key)
    return [targets[k] for k in sorted(targets)]


def originals_of(storage_key: str, source_files: Sequence[Mapping[str, Any]] | None) -> list[str]:
    keys = [storage_key]
    keys.extend(str(f["storage_key"]) for f in source_files or () if f.get("storage_key"))
    return keys
