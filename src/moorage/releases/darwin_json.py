"""One item of a release as a Darwin JSON 2.0 file, the shape darwin-py's
``darwin.utils.parse_darwin_json`` reads (``_parse_darwin_v2``, ``_parse_darwin_slot``).

Pure: plain row mappings in, a dict out. The URLs point at moorage's release file endpoints;
with ``include_export_token`` they carry the release token, else they need the team's API key
(which darwin-py sends for file downloads). The only annotations are the item's tags.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = [
    "SCHEMA_REF",
    "ReleaseLinks",
    "entry_name",
    "is_image",
    "item_document",
    "tag_annotations",
]

SCHEMA_REF = "https://darwin-public.s3.eu-west-1.amazonaws.com/darwin_json/2.0/schema.json"


@dataclass(frozen=True)
class ReleaseLinks:
    base_url: str
    team_slug: str
    team_name: str
    dataset_name: str
    dataset_slug: str
    release_id: uuid.UUID
    #: the release token, when the file URLs carry it
    token: str | None

    def export_base(self) -> str:
        return f"{self.base_url}/api/v2/teams/{self.team_slug}/exports/{self.release_id}"

    def slot_url(self, item_id: Any, slot_name: str, tail: str) -> str:
        url = f"{self.export_base()}/items/{item_id}/slots/{quote(slot_name, safe='')}/{tail}"
        return url if self.token is None else f"{url}?token={self.token}"


def entry_name(item: Mapping[Any, Any]) -> str:
    """The item's file in the zip. darwin-py reads every ``*.json`` at the zip's root and names
    its local copy after ``item.name``; the id keeps entries of same-named items apart."""
    return f"{item['id']}.json"


def _source_files(slot: Mapping[Any, Any], links: ReleaseLinks) -> list[dict[str, Any]]:
    files = slot["source_files"] or [
        {"storage_key": slot["storage_key"], "file_name": slot["file_name"]}
    ]
    item_id, name = slot["item_id"], slot["slot_name"]
    return [
        {"file_name": f["file_name"], "url": links.slot_url(item_id, name, f"files/{n}")}
        for n, f in enumerate(files)
    ]


def slot_document(slot: Mapping[Any, Any], links: ReleaseLinks) -> dict[str, Any]:
    meta = slot["metadata"] or {}
    name = slot["slot_name"]
    out: dict[str, Any] = {
        "type": slot["type"],
        "slot_name": name,
        "width": meta.get("width"),
        "height": meta.get("height"),
        "thumbnail_url": links.slot_url(slot["item_id"], name, "thumbnail"),
        "source_files": _source_files(slot, links),
    }
    if slot["type"] == "video":
        frames = int(slot["total_sections"] or 0)
        out["fps"] = slot["fps"] if slot["fps"] is not None else meta.get("native_fps")
        out["frame_count"] = frames
        # one URL a visible frame, as V7 gives for videos split into frames; darwin-py's
        # ``pull(video_frames=True)`` downloads them without OpenCV
        out["frame_urls"] = [
            links.slot_url(slot["item_id"], name, f"frames/{n}") for n in range(1, frames + 1)
        ]
    return out


def tag_annotations(
    item_id: uuid.UUID, slots: Sequence[Mapping[Any, Any]], tags: Sequence[tuple[str, str | None]]
) -> list[dict[str, Any]]:
    """The item's tags as Darwin JSON 2.0 tag annotations, as V7 exports an item's tags: on its
    first slot, a tag's text as its ``text`` sub-annotation, with an id that is the same in
    every release (from the item and the tag's name)."""
    slot_names = [str(slots[0]["slot_name"])] if slots else []
    out: list[dict[str, Any]] = []
    for name, text in tags:
        annotation: dict[str, Any] = {
            "id": str(uuid.uuid5(item_id, name)),
            "name": name,
            "slot_names": slot_names,
            "tag": {},
        }
        if text is not None:
            annotation["text"] = {"text": text}
        out.append(annotation)
    return out


def item_document(
    item: Mapping[Any, Any],
    slots: Sequence[Mapping[Any, Any]],
    links: ReleaseLinks,
    tags: Sequence[tuple[str, str | None]] = (),
) -> dict[str, Any]:
    item_id = str(item["id"])
    gallery = f"{links.base_url}/datasets/{links.dataset_slug}"
    return {
        "version": "2.0",
        "schema_ref": SCHEMA_REF,
        "item": {
            "name": item["name"],
            "path": item["path"],
            "source_info": {
                "item_id": item_id,
                "dataset": {
                    "name": links.dataset_name,
                    "slug": links.dataset_slug,
                    "dataset_management_url": gallery,
                },
                "team": {"name": links.team_name, "slug": links.team_slug},
                "workview_url": f"{gallery}/items/{item_id}",
            },
            "slots": [slot_document(s, links) for s in slots],
        },
        "annotations": tag_annotations(item["id"], slots, tags),
    }


def is_image(slots: Sequence[Mapping[Any, Any]]) -> bool:
    return bool(slots) and slots[0]["type"] == "image"
