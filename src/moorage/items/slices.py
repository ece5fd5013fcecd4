"""A DICOM or NIfTI slot's slice as original values: which source file holds it, read from the
team's storage, and handed to ``media.windowing``.

A slice is a section number (1-based, as in ``.../sections/{n}``). A DICOM series' sections
follow ``metadata.series`` (the worker's order: its ``file`` names start with the index of the
file in ``source_files``); a NIfTI slot's follow ``metadata.views``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.errors import Conflict, NotFound, ValidationFailed
from moorage.items.files import storage_adapter
from moorage.items.repository import item_repository
from moorage.items.service import find_item
from moorage.media.base import MediaError
from moorage.media.windowing import SliceValues, dicom_values, nifti_values
from moorage.models import Slot, Team
from moorage.storage.base import StorageAdapter

__all__ = ["SliceSource", "load_slice", "locate"]

_WORKER_NAME = re.compile(r"(\d{5})-")


@dataclass(frozen=True)
class SliceSource:
    """The file holding a slice; ``frame`` (DICOM) or ``axis``/``index`` (NIfTI), 0-based."""

    kind: str
    storage_key: str
    file_name: str
    frame: int = 0
    axis: int = 2
    index: int = 0


def _unknown_order() -> Conflict:
    return Conflict(
        "The slot has not been processed yet: the order of its slices is not known.",
        field="slice",
    )


def _span(entry: Mapping[str, Any], size: str) -> tuple[int, int]:
    try:
        return int(entry["first_section"]), int(entry[size])
    except (KeyError, TypeError, ValueError):
        raise _unknown_order() from None


def _dicom_source(slot: Slot, number: int) -> SliceSource:
    files = slot.source_files or [{"storage_key": slot.storage_key, "file_name": slot.file_name}]
    if len(files) == 1:
        f = files[0]
        return SliceSource("dicom", f["storage_key"], f["file_name"], frame=number - 1)
    series = slot.meta.get("series")
    for entry in series if isinstance(series, list) else ():
        first, frames = _span(entry, "frames")
        if first <= number < first + frames:
            match = _WORKER_NAME.match(str(entry.get("file", "")))
            if match is None or int(match[1]) >= len(files):
                break
            f = files[int(match[1])]
            return SliceSource("dicom", f["storage_key"], f["file_name"], frame=number - first)
    raise _unknown_order()


def _nifti_source(slot: Slot, number: int) -> SliceSource:
    views = slot.meta.get("views")
    for view in views if isinstance(views, list) else ():
        first, count = _span(view, "count")
        axis = "RAS".find(str(view.get("axis")))
        if first <= number < first + count and axis >= 0:
            return SliceSource(
                "nifti", slot.storage_key, slot.file_name, axis=axis, index=number - first
            )
    raise _unknown_order()


def locate(slot: Slot, number: int) -> SliceSource:
    """Which file (and frame, or view axis and index) holds section ``number`` of the slot."""
    if slot.kind not in ("dicom", "nifti"):
        raise ValidationFailed(
            f"Slot {slot.slot_name!r} is {slot.kind}: only DICOM and NIfTI slots have slices "
            "of original values.",
            field="slot_name",
        )
    if not 1 <= number <= slot.total_sections:
        raise NotFound(
            f"Slot {slot.slot_name!r} has {slot.total_sections} slices, not {number}.",
            field="slice",
        )
    return _dicom_source(slot, number) if slot.kind == "dicom" else _nifti_source(slot, number)


def load_slice(
    session: Session, team: Team, ctx: AppContext, *, item_id: str, slot_name: str, number: int
) -> SliceValues:
    """Slice ``number`` of the team's slot, read from the item's own storage."""
    uid, item = find_item(session, team, item_id)
    slot = item_repository.slot_by_name(session, uid, slot_name)
    if slot is None:
        raise NotFound(f"Item has no slot {slot_name!r}.", field="slot_name")
    source = locate(slot, number)
    adapter = storage_adapter(session, team, ctx, item["storage_id"], "storage of this item")
    with _local_copy(adapter, source, limit=ctx.settings.max_volume_bytes) as path:
        try:
            if source.kind == "dicom":
                return dicom_values(path, source.frame)
            return nifti_values(path, source.axis, source.index)
        except MediaError as exc:
            # the slot's file, as it is in storage now, has no such values: name the slot
            message = f"{source.file_name}: {exc.message}"
            raise ValidationFailed(message, field="slot_name") from exc


@contextmanager
def _local_copy(adapter: StorageAdapter, source: SliceSource, *, limit: int) -> Iterator[Path]:
    """The file on this server's disk, or a temporary download of it (at most ``limit`` bytes)."""
    path = adapter.local_path(source.storage_key)
    if path is not None:
        yield path
        return
    size = adapter.head(source.storage_key).size
    if size is not None and size > limit:
        raise ValidationFailed(
            f"The file holds {size} bytes, over MOORAGE_MAX_VOLUME_BYTES ({limit}).", field="slice"
        )
    name = Path(source.file_name or "file").name or "file"
    with tempfile.TemporaryDirectory(prefix="moorage-slice-") as tmp:
        target = Path(tmp) / name
        with adapter.open_read(source.storage_key) as stream, target.open("wb") as out:
            shutil.copyfileobj(stream, out, length=1 << 20)
        yield target
