"""Videos darwin-py processed itself (``dataset.register_locally_processed``).

darwin-py (``darwin/extractor/video.py``) runs ffmpeg, uploads the artifacts under
``{prefix}/{item_uuid}/files/{slot_uuid}/`` and sends, per video slot: ``width, height,
native_fps, visible_frames, total_frames``, ``hls_segments {high_quality, low_quality: {index,
bitrate}}`` (each index the m3u8 text with storage keys for segment lines),
``storage_sections_key_prefix`` + ``storage_sections_key_extension`` (``png`` | ``jpg``; frame
``k`` from 0 is ``{prefix}/{k:09d}.{ext}``), ``storage_low_quality_sections_key_prefix``
(optional: ``.jpg`` frames), ``storage_frames_manifest_key``, ``storage_thumbnail_key``,
``size_bytes`` (its ``total_size_bytes``) and ``storage_audio_peaks_key`` (optional).

moorage keeps the frames as sections (section ``k`` from 1 is frame ``k - 1``), the playlists
as slot metadata (``hls``: served with every segment signed per request, ``items/playlists.py``),
checks that every key named exists, and reads the manifest to check the frame counts.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from moorage.registration.model import Blocked, ItemIn, LocalVideo, SectionIn, SlotIn
from moorage.storage.base import StorageAdapter, StorageError

__all__ = ["LOCAL_VIDEO_FIELDS", "check_manifests", "expand", "parse_local_video"]

#: either of these on a slot makes it a locally processed video (``moorage prepare``'s video
#: slots carry ``storage_frames_manifest_key`` with a ``sections`` list: not this path)
LOCAL_VIDEO_FIELDS = ("hls_segments", "storage_sections_key_prefix")
_QUALITIES = {"high_quality": "high", "low_quality": "low"}
#: a playlist of ten hours in 1 s segments
MAX_SEGMENTS = 36_000
_INT32 = 2**31 - 1
#: bytes of manifest read: ~25 bytes a line, so a few million frames
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def _bad(field_name: str, message: str) -> Blocked:
    return Blocked("INVALID_FIELD", f"{field_name} {message}.", field=field_name)


def _key(raw: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = raw.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip("/"):
        raise Blocked("INVALID_STORAGE_KEY", f"{name} is missing or empty.", field=name)
    return value


def _count(raw: dict[str, Any], name: str) -> int:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _INT32:
        raise _bad(name, f"must be a positive integer, not {value!r}")
    return value


def _fps(raw: dict[str, Any]) -> float:
    value = raw.get("native_fps")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad("native_fps", f"must be a positive number, not {value!r}")
    try:
        ok = math.isfinite(value) and value > 0
    except OverflowError:
        ok = False
    if not ok:
        raise _bad("native_fps", f"must be a positive number, not {value!r}")
    return float(value)


def _segments(raw: Any) -> dict[str, tuple[str, float | None, list[str]]]:
    if not isinstance(raw, dict):
        raise _bad("hls_segments", "must be an object {high_quality, low_quality}")
    out: dict[str, tuple[str, float | None, list[str]]] = {}
    for name, quality in _QUALITIES.items():
        where = f"hls_segments.{name}"
        entry = raw.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("index"), str):
            raise _bad(where, "must be an object with index (the m3u8 text)")
        text = entry["index"]
        bitrate = entry.get("bitrate")
        if bitrate is not None and (
            isinstance(bitrate, bool) or not isinstance(bitrate, int | float) or bitrate < 0
        ):
            raise _bad(f"{where}.bitrate", "must be a non-negative number")
        keys = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        if not keys or not text.lstrip().startswith("#EXTM3U"):
            raise _bad(f"{where}.index", "must be an HLS playlist naming at least one segment")
        if len(keys) > MAX_SEGMENTS:
            raise _bad(f"{where}.index", f"names more than {MAX_SEGMENTS} segments")
        if any("://" in k for k in keys):
            raise _bad(f"{where}.index", "must name storage keys, not URLs")
        out[quality] = (text, float(bitrate) if bitrate is not None else None, keys)
    return out


def parse_local_video(slot: SlotIn, raw: dict[str, Any]) -> None:
    """Read darwin-py's fields onto ``slot`` (sections come later, from ``expand``)."""
    if slot.type not in (None, "video") or slot.kind not in (None, "video"):
        raise Blocked(
            "INVALID_FIELD", "Locally processed fields are for video slots.", field="type"
        )
    slot.kind = slot.type = "video"
    extension = raw.get("storage_sections_key_extension", "png")
    if extension not in ("png", "jpg"):
        raise _bad("storage_sections_key_extension", f"must be png or jpg, not {extension!r}")
    if slot.width is None or slot.height is None:
        raise Blocked("INVALID_DIMENSIONS", "width and height are required.", field="width")
    total, visible = _count(raw, "total_frames"), _count(raw, "visible_frames")
    if visible > total:
        raise _bad("visible_frames", f"({visible}) must not exceed total_frames ({total})")
    if slot.size_bytes is None and isinstance(raw.get("total_size_bytes"), int):
        slot.size_bytes = raw["total_size_bytes"]
    slot.local_video = LocalVideo(
        native_fps=_fps(raw),
        total_frames=total,
        visible_frames=visible,
        sections_prefix=str(_key(raw, "storage_sections_key_prefix", required=True)).rstrip("/"),
        extension=extension,
        lq_prefix=(
            _key(raw, "storage_low_quality_sections_key_prefix", required=False) or ""
        ).rstrip("/")
        or None,
        manifest_key=str(_key(raw, "storage_frames_manifest_key", required=True)),
        audio_peaks_key=_key(raw, "storage_audio_peaks_key", required=False),
        hls=_segments(raw.get("hls_segments")),
    )


def expand(items: list[ItemIn], *, max_frames: int) -> None:
    """Each locally processed slot's sections (one per visible frame), keys and metadata."""
    for item in items:
        for slot in item.slots:
            video = slot.local_video
            if video is None or item.blocked:
                continue
            if video.visible_frames > max_frames:
                slot.error = Blocked(
                    "TOO_MANY_FRAMES",
                    f"visible_frames ({video.visible_frames}) is over this server's limit of "
                    f"{max_frames} frames a slot.",
                    field="visible_frames",
                )
                continue
            _expand_slot(slot, video)


def _expand_slot(slot: SlotIn, video: LocalVideo) -> None:
    slot.sections = [
        SectionIn(
            index=k + 1,
            width=slot.width,
            height=slot.height,
            hq_key=f"{video.sections_prefix}/{k:09d}.{video.extension}",
            lq_key=f"{video.lq_prefix}/{k:09d}.jpg" if video.lq_prefix else None,
        )
        for k in range(video.visible_frames)
    ]
    slot.extra_keys = [("storage_frames_manifest_key", video.manifest_key)]
    if video.audio_peaks_key:
        slot.extra_keys.append(("storage_audio_peaks_key", video.audio_peaks_key))
    for quality, (_, _, keys) in video.hls.items():
        slot.extra_keys += [(f"hls_segments.{quality}_quality.index", k) for k in keys]
    slot.metadata.update(
        native_fps=video.native_fps,
        total_frames=video.total_frames,
        visible_frames=video.visible_frames,
        frames_manifests=[
            {
                "storage_key": video.manifest_key,
                "total_frames": video.total_frames,
                "visible_frames": video.visible_frames,
            }
        ],
        hls={
            quality: {"index": text, "bitrate": bitrate, "segments": len(keys)}
            for quality, (text, bitrate, keys) in video.hls.items()
        },
    )
    if video.audio_peaks_key:
        slot.metadata["storage_audio_peaks_key"] = video.audio_peaks_key


def check_manifests(items: list[ItemIn], adapter: StorageAdapter) -> None:
    """Read each locally processed slot's manifest: its frames must be the counts given."""
    pending = [
        s for i in items if not i.blocked for s in i.slots if s.local_video and s.error is None
    ]
    if not pending:
        return
    workers = max(1, min(adapter.max_concurrency, len(pending), 8))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        problems = list(pool.map(lambda s: _manifest_problem(s, adapter), pending))
    for slot, problem in zip(pending, problems, strict=True):
        if problem is not None and slot.error is None:
            slot.error = problem


def _manifest_problem(slot: SlotIn, adapter: StorageAdapter) -> Blocked | None:
    video = slot.local_video
    assert video is not None
    field_name = "storage_frames_manifest_key"
    try:
        with adapter.open_read(video.manifest_key) as stream:
            data = stream.read(MAX_MANIFEST_BYTES + 1)
    except StorageError as exc:
        return Blocked(
            exc.reason, f"{field_name} {video.manifest_key!r}: {exc.message}", field=field_name
        )
    if len(data) > MAX_MANIFEST_BYTES:
        return Blocked(
            "INVALID_FRAMES_MANIFEST", "The frames manifest is too large.", field=field_name
        )
    total = visible = 0
    segments = len(video.hls["high"][2])
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.strip().split(":")
        if not line.strip():
            continue
        if (
            len(parts) != 4
            or not (parts[0].isdigit() and parts[1].isdigit())
            or parts[2] not in ("0", "1")
        ):
            return _manifest_blocked(f"line {total + 1} is not FRAME:SEGMENT:VISIBLE:TIME")
        if int(parts[1]) >= segments:
            return _manifest_blocked(
                f"line {total + 1} names segment {parts[1]}; the hq playlist has {segments}"
            )
        total += 1
        visible += parts[2] == "1"
    if (total, visible) != (video.total_frames, video.visible_frames):
        return _manifest_blocked(
            f"lists {total} frames ({visible} visible), the slot says total_frames "
            f"{video.total_frames} and visible_frames {video.visible_frames}"
        )
    return None


def _manifest_blocked(message: str) -> Blocked:
    return Blocked(
        "INVALID_FRAMES_MANIFEST",
        f"The frames manifest {message}.",
        field="storage_frames_manifest_key",
    )
