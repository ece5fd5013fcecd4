"""The register_existing response, in the Darwin v2 shape, from a ``RegistrationResult``.

Item for item the same JSON as ``moorage.items.serialize.item_json`` gives for the rows just
written, built straight from the registered items: what is the same for every item (the slot
URL's start, the statuses, the timestamps) is worked out once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from moorage.kit.timestamps import rfc3339
from moorage.registration.model import ItemIn, RegistrationResult, SlotIn

__all__ = ["response_json"]


def _slot_json(slot: SlotIn, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(slot.id),
        "slot_name": slot.slot_name,
        "type": slot.type,
        "file_name": slot.file_name,
        "storage_key": slot.storage_key,
        "fps": slot.fps if slot.fps is not None else ("native" if slot.type == "video" else None),
        "as_frames": slot.as_frames,
        "extract_views": slot.extract_views,
        "is_external": True,
        "streamable": "hls" in slot.metadata,
        "total_sections": slot.total_sections,
        # the playlists are served by URL (items/playlists.py), not echoed
        "metadata": {k: v for k, v in slot.metadata.items() if k != "hls"},
        "file_url": f"{base}/file",
        "thumbnail_url": f"{base}/thumbnail",
    }
    if slot.size_bytes is not None:
        out["size_bytes"] = slot.size_bytes
    return out


def response_json(result: RegistrationResult) -> dict[str, Any]:
    """``{"items": [...], "blocked_items": [...]}``, items and blocked items in payload order."""
    items_url = f"{result.base_url}/api/v2/teams/{result.team_slug}/items/"
    processing = "complete" if result.readonly else "processing"
    status = "new" if result.readonly else "processing"
    at = rfc3339(result.registered_at)
    quoted: dict[str, str] = {}

    def item_json(item: ItemIn) -> dict[str, Any]:
        iid = str(item.id)
        slots = []
        for slot in item.slots:
            name = quoted.get(slot.slot_name)
            if name is None:
                name = quoted[slot.slot_name] = quote(slot.slot_name, safe="")
            slots.append(_slot_json(slot, f"{items_url}{iid}/slots/{name}"))
        tags = item.tags
        out: dict[str, Any] = {
            "id": iid,
            "name": item.name,
            "path": item.path,
            "status": status,
            "processing_status": processing,
            "archived": False,
            "dataset_id": result.dataset_id,
            "priority": item.priority,
            "layout": item.layout,
            "slot_types": list(dict.fromkeys(s.type for s in item.slots)),
            "tags": list(tags),
            "tag_values": {k: v for k, v in tags.items() if v is not None} if tags else {},
            "inserted_at": at,
            "updated_at": at,
            "slots": slots,
        }
        size = item.size_bytes
        if size is not None:
            out["size_bytes"] = size
        return out

    return {
        "items": [item_json(i) for i in result.registered],
        "blocked_items": [i.blocked_json() for i in result.blocked],
    }
