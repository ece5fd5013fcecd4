"""The raw register_upload items made into register_existing items: each slot gets the storage
key its bytes will be written to, chosen by moorage, never by the client."""

from __future__ import annotations

import posixpath
import uuid
from dataclasses import dataclass, field
from typing import Any

from moorage.storage.base import join_key

__all__ = ["UPLOADS_PREFIX", "Prepared", "key_name", "prepare_item"]

#: where uploaded files go in the upload storage (under the storage's own prefix, if any)
UPLOADS_PREFIX = "uploads"
#: the slot fields a client may send for an upload; anything else (a storage key, read-only
#: derivatives) is not the client's to choose
_SLOT_FIELDS = ("slot_name", "file_name", "type", "fps", "as_frames", "extract_views", "metadata")
#: the longest file name kept in a key, in bytes (a local path component holds 255)
_KEY_NAME_BYTES = 180


def key_name(file_name: Any) -> str:
    """The last segment of an upload's key: the file's base name, shortened to fit a path
    component (its extension kept), ``file`` when nothing usable is left."""
    text = file_name if isinstance(file_name, str) else ""
    name = posixpath.basename(text.replace("\\", "/")).strip()
    if name in ("", ".", ".."):
        return "file"
    raw = name.encode("utf-8", "surrogatepass")
    if len(raw) <= _KEY_NAME_BYTES:
        return name
    ext = posixpath.splitext(name)[1][:16]
    head = raw[: _KEY_NAME_BYTES - len(ext.encode())].decode("utf-8", "ignore")
    return head + ext


@dataclass(slots=True)
class Prepared:
    """One item ready for ``normalize_item``, with the upload of each storage key."""

    raw: Any
    uploads: dict[str, uuid.UUID] = field(default_factory=dict)
    #: the size each upload announced (``size_bytes``), by storage key
    announced: dict[str, Any] = field(default_factory=dict)


def _slot(raw: dict[str, Any], prefix: str, default_name: Any, out: Prepared) -> dict[str, Any]:
    slot = {k: raw[k] for k in _SLOT_FIELDS if k in raw}
    upload_id = uuid.uuid4()
    file_name = raw.get("file_name", default_name)
    slot["storage_key"] = join_key(prefix, UPLOADS_PREFIX, str(upload_id), key_name(file_name))
    if "file_name" not in slot and isinstance(default_name, str):
        slot["file_name"] = default_name
    out.uploads[slot["storage_key"]] = upload_id
    if raw.get("size_bytes") is not None:
        out.announced[slot["storage_key"]] = raw["size_bytes"]
    return slot


def prepare_item(raw: Any, prefix: str) -> Prepared:
    """darwin-py puts ``tags`` on the slot: they become the item's (when it has none)."""
    out = Prepared(raw=raw)
    if not isinstance(raw, dict):
        return out
    item = {k: v for k, v in raw.items() if k != "slots"}
    raw_slots = raw.get("slots")
    if raw_slots is None:  # a flat item: its one file is the item itself
        flat = {k: raw[k] for k in (*_SLOT_FIELDS, "size_bytes") if k in raw}
        raw_slots = [{"slot_name": "0", **flat}]
        for k in (
            "type",
            "fps",
            "as_frames",
            "extract_views",
            "metadata",
            "file_name",
            "size_bytes",
        ):
            item.pop(k, None)
    if not isinstance(raw_slots, list):
        item["slots"] = raw_slots
        out.raw = item
        return out
    slots: list[Any] = []
    for entry in raw_slots:
        if not isinstance(entry, dict):
            slots.append(entry)
            continue
        if "tags" in entry and "tags" not in item:
            item["tags"] = entry["tags"]
        slots.append(_slot(entry, prefix, raw.get("name"), out))
    item["slots"] = slots
    out.raw = item
    return out
