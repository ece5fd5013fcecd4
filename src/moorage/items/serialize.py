"""Item JSON in the Darwin v2 shape, from plain row mappings (ORM objects not needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from moorage.kit.timestamps import rfc3339

__all__ = ["hls_json", "item_json", "section_json", "shown_as_is", "slot_base", "slot_json"]


def _slot_base(base_url: str, team_slug: str, item_id: Any, slot_name: str) -> str:
    return f"{base_url}/api/v2/teams/{team_slug}/items/{item_id}/slots/{quote(slot_name, safe='')}"


slot_base = _slot_base


def shown_as_is(kind: str, total_sections: int) -> bool:
    """An image the viewer shows as it is stored: its one section (1, as sections count from
    1) has no row; ``sections/1/hq`` is the original itself."""
    return kind == "image" and total_sections == 1


def _original_section(meta: Mapping[str, Any], base: str) -> dict[str, Any]:
    return {
        "section_index": 1,
        "width": meta.get("width"),
        "height": meta.get("height"),
        "hq_url": f"{base}/sections/1/hq",
    }


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
    hls = meta.pop("hls", None)  # playlists (keys or text) stay inside: served by URL
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
        "streamable": bool(hls),
        "total_sections": slot["total_sections"],
        "metadata": meta,
        "file_url": f"{base}/file",
        "thumbnail_url": f"{base}/thumbnail",
    }
    if hls:
        out["hls_segments"] = hls_json(hls, base)
    if slot["size_bytes"] is not None:
        out["size_bytes"] = slot["size_bytes"]
    if sections is not None:
        out["sections"] = [section_json(s, base=base) for s in sections] or _pending(slot)
        if not out["sections"] and shown_as_is(slot["kind"], slot["total_sections"]):
            out["sections"] = [_original_section(meta, base)]
    return out


#: the slot JSON's names of the two renditions, after darwin-py's ``hls_segments``
HLS_QUALITIES = {"high": "high_quality", "low": "low_quality"}


def hls_json(hls: Mapping[str, Any], base: str) -> dict[str, Any]:
    """Each rendition's playlist URL (signed afresh on every request) and bitrate."""
    return {
        name: {"url": f"{base}/hls/{quality}/index.m3u8", "bitrate": hls[quality].get("bitrate")}
        for quality, name in HLS_QUALITIES.items()
        if isinstance(hls.get(quality), Mapping)
    }


def _pending(slot: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """A series not processed yet has no sections: its files stand for them, one a file."""
    return [
        {
            "section_index": n,
            "width": None,
            "height": None,
            "storage_key": f["storage_key"],
            "file_name": f["file_name"],
        }
        for n, f in enumerate(slot.get("source_files") or [], start=1)
    ]


def item_json(
    item: Mapping[Any, Any],
    slots: Sequence[Mapping[Any, Any]],
    *,
    tags: Mapping[str, str | None],
    base_url: str,
    team_slug: str,
    sections: Mapping[Any, Sequence[Mapping[Any, Any]]] | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """``cursor`` only in a listing: where the next page starts after this item."""
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
        "layout": item["layout"] or None,  # darwin-py validates a layout it is given
        "slot_types": list(dict.fromkeys(s["type"] for s in slots)),
        "tags": list(tags),
        "tag_values": {k: v for k, v in tags.items() if v is not None},
        "inserted_at": rfc3339(item["inserted_at"]),
        "updated_at": rfc3339(item["updated_at"]),
        "slots": rendered,
    }
    if cursor is not None:
        out["cursor"] = cursor
    if item.get("size_bytes") is not None:
        out["size_bytes"] = item["size_bytes"]
    if item.get("processing_error"):
        out["processing_error"] = item["processing_error"]
    if item.get("source_status"):
        out["source_status"] = item["source_status"]
    return out
