"""One prepared file as a ``register_existing`` item, with every read-only field filled in.

Videos also carry the slot fields darwin-py's ``register_existing_readonly`` flow sends
(``darwin/extractor/video.py``) that moorage's processing makes truthfully: ``native_fps``,
``total_frames``, ``visible_frames``, ``storage_frames_manifest_key`` (with
``storage_thumbnail_key`` and ``size_bytes``, which every slot has). Not emitted, because
moorage makes no such thing: ``hls_segments`` (no HLS segments; every manifest line says segment
0), ``storage_audio_peaks_key``; and ``storage_sections_key_prefix`` /
``storage_low_quality_sections_key_prefix`` / ``storage_sections_key_extension``, because a
reader of those derives frame ``n`` as ``{prefix}/{n:09d}`` counting from 0 (ffmpeg's
``-start_number 0``) while moorage numbers sections from 1: the ``sections`` list names every
frame's keys instead.
"""

from __future__ import annotations

import posixpath
from typing import Any

from moorage.media import MediaKind, SlotResult
from moorage.media.base import MANIFEST_NAME
from moorage.prepare.layout import join

__all__ = ["DARWIN_VIDEO_FIELDS", "build_item"]

#: the darwin-py read-only video fields a prepared video slot carries
DARWIN_VIDEO_FIELDS = (
    "native_fps",
    "total_frames",
    "visible_frames",
    "storage_frames_manifest_key",
    "storage_thumbnail_key",
    "size_bytes",
)


def _slot_type(kind: MediaKind) -> str:
    # The contract knows image, video, pdf and dicom; NIfTI volumes register as DICOM-like.
    return "dicom" if kind == "nifti" else kind


def item_path(rel_folder: str) -> str:
    """The item's ``path``: its key's folder below the prefix, as ``preserve_folders`` does."""
    return "/" + rel_folder.strip("/")


def build_item(
    *,
    key: str,
    rel: str,
    size: int,
    kind: MediaKind,
    result: SlotResult,
    folder: str,
    fps: float | None,
) -> dict[str, Any]:
    """The item for the original at ``key`` (``rel`` below the prefix), its derivatives in
    ``folder``."""
    name = posixpath.basename(key)
    slot: dict[str, Any] = {
        "slot_name": "0",
        "type": _slot_type(kind),
        "storage_key": key,
        "file_name": name,
        "size_bytes": size,
        "width": result.width,
        "height": result.height,
    }
    if result.thumbnail_name:
        slot["storage_thumbnail_key"] = join(folder, result.thumbnail_name)
    if result.sections:
        slot["sections"] = [
            {
                "section_index": s.index,
                "width": s.width,
                "height": s.height,
                "storage_hq_key": join(folder, s.hq_name),
                "storage_lq_key": join(folder, s.lq_name) if s.lq_name else None,
            }
            for s in result.sections
        ]
    metadata = dict(result.metadata)
    if kind == "video":
        _video_fields(slot, metadata, folder, fps)
    slot["metadata"] = metadata
    return {"name": name, "path": item_path(posixpath.dirname(rel)), "slots": [slot]}


def _video_fields(
    slot: dict[str, Any], metadata: dict[str, Any], folder: str, fps: float | None
) -> None:
    slot["fps"] = fps if fps and fps > 0 else 0
    slot["as_frames"] = False
    for field in ("native_fps", "total_frames", "visible_frames"):
        if metadata.get(field) is not None:
            slot[field] = metadata[field]
    manifests = metadata.get("frames_manifests") or []
    metadata["frames_manifests"] = [
        {**m, "storage_key": join(folder, m.get("name", MANIFEST_NAME))} for m in manifests
    ]
    if metadata["frames_manifests"]:
        slot["storage_frames_manifest_key"] = metadata["frames_manifests"][0]["storage_key"]
