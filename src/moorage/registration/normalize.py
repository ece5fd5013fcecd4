"""Turn raw payload items into ``ItemIn``s, recording a reason for every problem found.

Lenient where the Darwin contract is (``"false"`` strings, flat single-slot items, tags as an
object), strict where a mistake would register something wrong.
"""

from __future__ import annotations

import math
import posixpath
from typing import Any

import orjson

from moorage.kit.text import find_unsafe, unsafe_text
from moorage.media.probe import kind_from_extension
from moorage.models import Item as ItemRow
from moorage.models import ItemTag, Slot
from moorage.models.base import column_width
from moorage.registration.layout import default_layout, validate_layout
from moorage.registration.local_video import LOCAL_VIDEO_FIELDS, parse_local_video
from moorage.registration.model import Blocked, ItemIn, SectionIn, SlotIn
from moorage.registration.types import SLOT_TYPES, kind_to_type

_FLAT_SLOT_FIELDS = (
    "type",
    "storage_key",
    "fps",
    "as_frames",
    "extract_views",
    "storage_thumbnail_key",
    "width",
    "height",
    "sections",
    "metadata",
    "size_bytes",
    "file_name",
)


def _bool(value: Any, field: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Blocked("INVALID_FIELD", f"{field} must be true or false, not {value!r}.", field=field)


INT32 = 2**31 - 1
# the column widths: PostgreSQL refuses longer strings, SQLite stores them; refuse on both
MAX_NAME = column_width(ItemRow.name)
MAX_PATH = column_width(ItemRow.path)
MAX_SLOT_NAME = column_width(Slot.slot_name)
MAX_FILE_NAME = column_width(Slot.file_name)
MAX_TAG_NAME = column_width(ItemTag.name)

#: the reason for an unstorable character, by the item field it was found in
_UNSAFE_REASONS = {
    "name": "INVALID_NAME",
    "path": "INVALID_PATH",
    "tags": "INVALID_TAGS",
    "layout": "INVALID_LAYOUT",
    "sections": "INVALID_SECTIONS",
    "storage_key": "INVALID_STORAGE_KEY",
    "storage_thumbnail_key": "INVALID_STORAGE_KEY",
    "storage_hq_key": "INVALID_STORAGE_KEY",
    "storage_lq_key": "INVALID_STORAGE_KEY",
}


def _text(value: str, field: str, *, reason: str, limit: int | None) -> str:
    """A single-line name: no control characters, at most ``limit`` characters."""
    problem = unsafe_text(value, single_line=True)
    if problem is not None:
        raise Blocked(reason, f"{field} {problem}.", field=field)
    if limit is not None and len(value) > limit:
        raise Blocked(reason, f"{field} is longer than {limit} characters.", field=field)
    return value


def check_storable(raw: dict[str, Any]) -> Blocked | None:
    """NUL or a lone surrogate anywhere in an item: PostgreSQL cannot store it (JSONB neither),
    SQLite would; both engines block the item alike, naming the field."""
    try:
        # the common case in one C call: orjson refuses a lone surrogate and writes NUL as
        # \u0000 (a literal backslash-u would be \\u0000: a false alarm the walk below clears)
        if b"\\u0000" not in orjson.dumps(raw):
            return None
    except orjson.JSONEncodeError:
        pass
    found = find_unsafe(raw)
    if found is None:
        return None
    where, problem = found
    parts = where.split(".")
    named = next((p for p in reversed(parts) if p in _UNSAFE_REASONS), parts[0])
    reason = _UNSAFE_REASONS.get(named, "INVALID_FIELD")
    field = where or "item"
    return Blocked(reason, f"{field} {problem}.", field=field)


def _positive_int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= INT32:
        raise Blocked(
            "INVALID_DIMENSIONS",
            f"{field} must be a positive integer (pixels), not {value!r}.",
            field=field,
        )
    return value


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a double
        return False


def _fps(value: Any) -> tuple[float | None, float | str | None]:
    """(sampling rate or None for native, the value to echo back)."""
    if value is None:
        return None, None
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "native":
            return None, "native"
        try:
            value = float(text)
        except ValueError:
            raise Blocked(
                "INVALID_FPS", f"fps must be a number or 'native', not {value!r}.", field="fps"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise Blocked("INVALID_FPS", "fps must be a finite number or 'native'.", field="fps")
    if value < 0:
        raise Blocked("INVALID_FPS", f"fps must not be negative ({value}).", field="fps")
    if value == 0:
        return None, 0
    return float(value), value


def _key(value: Any, field: str) -> str:
    if not isinstance(value, str) or value == "":
        raise Blocked("INVALID_STORAGE_KEY", f"{field} is missing or empty.", field=field)
    return value


def _optional_key(value: Any, field: str) -> str | None:
    return None if value is None else _key(value, field)


def normalize_path(value: Any) -> str:
    if value is None or value == "":
        return "/"
    if not isinstance(value, str):
        raise Blocked("INVALID_PATH", f"path must be a folder path like '/a/b', not {value!r}.")
    _text(value, "path", reason="INVALID_PATH", limit=None)
    parts = [p for p in value.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Blocked("INVALID_PATH", f"path {value!r} must not contain '..'.")
    path = "/" + "/".join(parts)
    if len(path) > MAX_PATH:
        raise Blocked("INVALID_PATH", f"path is longer than {MAX_PATH} characters.", field="path")
    return path


def _sections(raw: Any) -> list[SectionIn]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Blocked("INVALID_SECTIONS", "sections must be a list.", field="sections")
    out: list[SectionIn] = []
    for i, s in enumerate(raw):
        if not isinstance(s, dict):
            raise Blocked("INVALID_SECTIONS", f"sections[{i}] must be an object.", field="sections")
        index = s.get("section_index", i + 1)
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= INT32:
            raise Blocked(
                "INVALID_SECTIONS",
                f"sections[{i}].section_index must be a positive integer (1-based).",
                field="section_index",
            )
        out.append(
            SectionIn(
                index=index,
                width=_positive_int(s.get("width"), f"sections[{i}].width"),
                height=_positive_int(s.get("height"), f"sections[{i}].height"),
                hq_key=_optional_key(s.get("storage_hq_key"), f"sections[{i}].storage_hq_key"),
                lq_key=_optional_key(s.get("storage_lq_key"), f"sections[{i}].storage_lq_key"),
            )
        )
    out.sort(key=lambda s: s.index)
    if len({s.index for s in out}) != len(out):
        raise Blocked(
            "INVALID_SECTIONS", "section_index values must be unique.", field="section_index"
        )
    return out


def _slot(raw: dict[str, Any], default_name: str) -> SlotIn:
    name = raw.get("slot_name", default_name)
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)
    slot = SlotIn(slot_name=name if isinstance(name, str) and name else default_name)
    try:
        if not isinstance(name, str) or not name:
            raise Blocked(
                "INVALID_FIELD", "slot_name must be a non-empty string.", field="slot_name"
            )
        _text(name, "slot_name", reason="INVALID_FIELD", limit=MAX_SLOT_NAME)
        slot.storage_key = _key(raw.get("storage_key"), "storage_key")
        file_name = raw.get("file_name")
        slot.file_name = (
            file_name
            if isinstance(file_name, str) and file_name
            else posixpath.basename(slot.storage_key)
        )
        _text(slot.file_name, "file_name", reason="INVALID_FIELD", limit=MAX_FILE_NAME)
        declared = raw.get("type")
        if declared is not None and declared not in SLOT_TYPES:
            raise Blocked(
                "UNSUPPORTED_TYPE",
                f"type {declared!r} is not supported; use one of {', '.join(SLOT_TYPES)}.",
                field="type",
            )
        ext_kind = kind_from_extension(slot.file_name) or kind_from_extension(slot.storage_key)
        slot.kind = "nifti" if ext_kind == "nifti" else (declared or ext_kind)
        slot.type = declared or (kind_to_type(ext_kind) if ext_kind else None)
        slot.fps, slot.fps_out = _fps(raw.get("fps"))
        slot.as_frames = _bool(raw.get("as_frames"), "as_frames")
        slot.extract_views = _bool(raw.get("extract_views"), "extract_views")
        slot.thumbnail_key = _optional_key(
            raw.get("storage_thumbnail_key"), "storage_thumbnail_key"
        )
        slot.width = _positive_int(raw.get("width"), "width")
        slot.height = _positive_int(raw.get("height"), "height")
        size = raw.get("size_bytes")
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**63
        ):
            raise Blocked(
                "INVALID_FIELD", "size_bytes must be a non-negative integer.", field="size_bytes"
            )
        slot.size_bytes = size
        meta = raw.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise Blocked("INVALID_FIELD", "metadata must be an object.", field="metadata")
        slot.metadata = dict(meta or {})
        slot.sections = _sections(raw.get("sections"))
        if any(f in raw for f in LOCAL_VIDEO_FIELDS):
            parse_local_video(slot, raw)
    except Blocked as exc:
        slot.error = exc
    return slot


def _merge_series(entries: list[SlotIn]) -> SlotIn:
    """Several entries with one slot_name: one slot holding a series, one section per file."""
    first = entries[0]
    first.entries = len(entries)
    sections: list[SectionIn] = []
    for entry in entries:
        if entry.error is not None and first.error is None:
            first.error = entry.error
        if entry.kind != first.kind and first.error is None:
            first.error = Blocked(
                "MIXED_SERIES",
                f"Slot {first.slot_name!r} mixes {first.kind} and {entry.kind} files; "
                "a series holds files of one type.",
                field="type",
            )
        given = entry.sections or [SectionIn(index=0, width=entry.width, height=entry.height)]
        for s in given:
            s.storage_key, s.file_name = entry.storage_key, entry.file_name
            sections.append(s)
        if first.thumbnail_key is None:
            first.thumbnail_key = entry.thumbnail_key
    for i, s in enumerate(sections, start=1):
        s.index = i
    first.sections = sections
    return first


def _tags(raw: Any) -> dict[str, str | None]:
    if raw is None:
        return {}
    if isinstance(raw, list) and all(isinstance(t, str) and t for t in raw):
        tags: dict[str, str | None] = dict.fromkeys(raw)
    elif isinstance(raw, dict) and all(isinstance(k, str) and k for k in raw):
        tags = {k: None if v is None else str(v) for k, v in raw.items()}
    else:
        raise Blocked(
            "INVALID_TAGS", "tags must be a list of names or an object {name: text}.", field="tags"
        )
    for tag in tags:
        _text(tag, "tags", reason="INVALID_TAGS", limit=MAX_TAG_NAME)
    return tags


def _name_problem(name: str) -> Blocked | None:
    try:
        _text(name, "name", reason="INVALID_NAME", limit=MAX_NAME)
    except Blocked as exc:
        return exc
    return None


def normalize_item(index: int, raw: Any) -> ItemIn:
    if not isinstance(raw, dict):
        item = ItemIn(index=index, name=None, path="/")
        item.block("INVALID_ITEM", f"items[{index}] must be an object.")
        return item
    name = raw.get("name")
    item = ItemIn(index=index, name=name if isinstance(name, str) else None, path="/")
    item.error = check_storable(raw)
    try:
        item.path = normalize_path(raw.get("path"))
    except Blocked as exc:
        item.error = item.error or exc
    raw_slots = raw.get("slots")
    if raw_slots is None:
        flat = {k: raw[k] for k in _FLAT_SLOT_FIELDS if k in raw}
        raw_slots = [{"slot_name": "0", **flat}] if "storage_key" in raw else []
    if not isinstance(raw_slots, list) or not all(isinstance(s, dict) for s in raw_slots):
        item.block("INVALID_SLOTS", "slots must be a list of objects.")
        return item
    groups: dict[str, list[SlotIn]] = {}
    for entry in raw_slots:
        slot = _slot(entry, "0")
        groups.setdefault(slot.slot_name, []).append(slot)
    item.slots = [g[0] if len(g) == 1 else _merge_series(g) for g in groups.values()]
    for position, slot in enumerate(item.slots):
        slot.metadata.setdefault("position", position)
    if not isinstance(name, str) or not name.strip() or "/" in name:
        item.block("INVALID_NAME", "name must be a non-empty file name without '/'.")
    elif (problem := _name_problem(name)) is not None:
        item.block(problem.reason, problem.message, field="name")
    elif not item.slots:
        item.block("NO_SLOTS", "The item names no file: give storage_key or slots.")
    try:
        item.tags = _tags(raw.get("tags"))
        priority = raw.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > INT32:
            raise Blocked("INVALID_FIELD", "priority must be a 32-bit integer.", field="priority")
        item.priority = priority
        names = [s.slot_name for s in item.slots]
        layout = raw.get("layout")
        item.layout = (
            validate_layout(layout, names) if layout is not None else default_layout(names)
        )
    except Blocked as exc:
        item.block(exc.reason, exc.message, field=exc.field)
    return item
