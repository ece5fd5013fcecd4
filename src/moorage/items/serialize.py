"""Item JSON in the Darwin v2 shape, from plain row mappings (ORM objects not needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from moorage.kit.cursor import encode_cursor

__all__ = ["item_json", "section_json", "slot_json"]


def _slot_base(base_url: str, team_slug: str, item_id: Any, slot_name: str) -> str:
    return f"{base_url}/api/v2/teams/{team_slug}/items/{item_id}/slots/{quote(slot_name, safe='')}"


def section_json(section: Mapping[Any, Any], *, base: str) -> dict[str, Any]:
    n = section["section_index"]
    out: dict[str, Any] = {
        "section_index": n,
        "width": section["width"],
        "height": section["height"],
    }
    if section.get("storage_hq_key"):
        out["hq_url"] = f"{base}/sections/{n}/hq"
    if section.get("storage_lq_key"):
        out["lq_url"] = f"{base}/sections/{n}/lq"
    if section.get("storage_key"):
        out["storage_key"] = section["storage_key"]
        out["file_name"] = section.get("file_name")
    return out


def slot_json(
    slot: Mapping[Any, Any],
    *,
    base_url: str,
    team_slug: str,
    sections: Sequence[Mapping[Any, Any]] | None = None,
) -> dict[str, Any]:
    base = _slot_base(base_url, team_slug, slot["item_id"], slot["slot_name"])
    meta = dict(slot["metadata"] or {})
    fps = slot["fps"]
    out: dict[str, Any] = {
        "id": str(slot["id"]),
        "slot_name": slot["slot_name"],
        "type": slot["type"],
        "file_name": slot["file_name"],
        "storage_key": slot["storage_key"],
        "fps": fps if fps is not None else ("native" if slot["type"] == "video" else None),
        "as_frames": slot["as_frames"],
        "extract_views": slot["extract_views"],
        "is_external": True,
        "streamable": False,
        "total_sections": slot["total_sections"],
        "metadata": meta,
        "file_url": f"{base}/file",
        "thumbnail_url": f"{base}/thumbnail",
    }
    if slot["size_bytes"] is not None:
        out["size_bytes"] = slot["size_bytes"]
    if sections is not None:
        out["sections"] = [section_json(s, base=base) for s in sections]
    return out


def item_json(
    item: Mapping[Any, Any],
    slots: Sequence[Mapping[Any, Any]],
    *,
    tags: Mapping[str, str | None],
    base_url: str,
    team_slug: str,
    sections: Mapping[Any, Sequence[Mapping[Any, Any]]] | None = None,
    sort_value: Any = None,
) -> dict[str, Any]:
    rendered = [
        slot_json(
            s,
            base_url=base_url,
            team_slug=team_slug,
            sections=None if sections is None else sections.get(s["id"], []),
        )
        for s in slots
    ]
    processing = item["processing_status"]
    out: dict[str, Any] = {
        "id": str(item["id"]),
        "name": item["name"],
        "path": item["path"],
        "status": "archived"
        if item["archived"]
        else (item["status"] if processing == "complete" else processing),
        "processing_status": processing,
        "archived": item["archived"],
        "dataset_id": item["dataset_id"],
        "priority": item["priority"],
        "layout": item["layout"],
        "slot_types": list(dict.fromkeys(s["type"] for s in slots)),
        "tags": list(tags),
        "tag_values": {k: v for k, v in tags.items() if v is not None},
        "inserted_at": item["inserted_at"],
        "updated_at": item["updated_at"],
        "slots": rendered,
    }
    if "seq" in item:
        out["cursor"] = encode_cursor(sort_value, item["seq"])
    if item.get("size_bytes") is not None:
        out["size_bytes"] = item["size_bytes"]
    if item.get("processing_error"):
        out["processing_error"] = item["processing_error"]
    if item.get("source_status"):
        out["source_status"] = item["source_status"]
    return out
