"""The rows one registration writes, built once from the accepted items.

Each table's rows are tuples of the values that differ from row to row, plus one mapping of the
values that are the same for every row (team, dataset, statuses, timestamps, options): the
repository converts those once, not once a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from moorage.models.base import new_uuids
from moorage.registration.model import ItemIn, SlotIn

__all__ = ["Bulk", "RegistrationRows", "build_rows", "folder_and_ancestors"]


@dataclass(frozen=True, slots=True)
class Bulk:
    """Rows of one table: ``rows`` hold the ``columns`` in order, ``constants`` the rest."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    constants: dict[str, Any] = field(default_factory=dict)

    def keeping(self, column: str, ids: set[uuid.UUID]) -> Bulk:
        """Only the rows whose ``column`` is one of ``ids``."""
        at = self.columns.index(column)
        return replace(self, rows=[r for r in self.rows if r[at] in ids])


@dataclass(frozen=True, slots=True)
class RegistrationRows:
    items: Bulk
    slots: Bulk
    sections: Bulk
    tags: Bulk
    jobs: Bulk
    #: every folder the items are in, ancestors included
    folders: set[str]

    @property
    def children(self) -> tuple[Bulk, ...]:
        """The tables that refer to items, in the order they are written."""
        return (self.slots, self.sections, self.tags, self.jobs)

    def keeping(self, item_ids: set[uuid.UUID]) -> RegistrationRows:
        """The rows of those items only (the others lost a race for their name)."""
        slots = self.slots.keeping("item_id", item_ids)
        slot_ids = {r[0] for r in slots.rows}
        return replace(
            self,
            items=self.items.keeping("id", item_ids),
            slots=slots,
            sections=self.sections.keeping("slot_id", slot_ids),
            tags=self.tags.keeping("item_id", item_ids),
            jobs=self.jobs.keeping("item_id", item_ids),
        )


_ITEM_COLUMNS = ("id", "name", "path", "priority", "size_bytes", "primary_type", "layout")
_SLOT_COLUMNS = (
    "id",
    "item_id",
    "position",
    "slot_name",
    "type",
    "kind",
    "file_name",
    "storage_key",
    "storage_thumbnail_key",
    "size_bytes",
    "fps",
    "as_frames",
    "extract_views",
    "metadata",
    "total_sections",
    "source_files",
)
_SECTION_COLUMNS = (
    "slot_id",
    "section_index",
    "storage_hq_key",
    "storage_lq_key",
    "width",
    "height",
)


def folder_and_ancestors(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _finish_slot(slot: SlotIn, *, readonly: bool) -> None:
    """The slot's stored metadata and section count, set on the slot itself (the response
    shows both)."""
    meta = slot.metadata
    first = slot.sections[0] if slot.sections else None
    width = slot.width or (first.width if first else None)
    height = slot.height or (first.height if first else None)
    if width is not None:
        meta["width"], meta["height"] = width, height
    if slot.kind == "nifti":
        meta["medical_format"] = "nifti"
    if slot.entries > 1:
        meta["series_files"] = slot.entries
    slot.total_sections = len(slot.sections) or (1 if slot.kind == "image" and readonly else 0)


def _source_files(slot: SlotIn) -> list[dict[str, str]] | None:
    """The files of a series, in order, once each (``None``: the slot's one file)."""
    if slot.entries < 2:
        return None
    files: dict[str, dict[str, str]] = {}
    for s in slot.sections:
        if s.storage_key and s.storage_key not in files:
            files[s.storage_key] = {"storage_key": s.storage_key, "file_name": s.file_name or ""}
    return list(files.values())


def _assign_ids(items: Sequence[ItemIn], *, jobs: bool) -> list[uuid.UUID]:
    """Ids for the items and their slots; returns the jobs' ids (one a slot) if ``jobs``."""
    slots = sum(len(i.slots) for i in items)
    # ascending in the order the rows are written: each id index (and each foreign key check
    # of slots and jobs) is visited in order
    ids = iter(new_uuids(len(items) + slots * (2 if jobs else 1), ascending=True))
    for item in items:
        item.id = next(ids)
        for slot in item.slots:
            slot.id = next(ids)
    return list(ids)


def build_rows(
    items: Sequence[ItemIn],
    *,
    team_id: int,
    dataset_id: int,
    storage_id: int,
    readonly: bool,
    options: dict[str, Any],
    now: datetime,
) -> RegistrationRows:
    """Every row of the accepted ``items``; gives each item and slot its id."""
    job_ids = iter(_assign_ids(items, jobs=not readonly))
    out = RegistrationRows(
        items=Bulk(
            "items",
            _ITEM_COLUMNS,
            constants={
                "team_id": team_id,
                "dataset_id": dataset_id,
                "storage_id": storage_id,
                "status": "new" if readonly else "processing",
                "processing_status": "complete" if readonly else "processing",
                "processing_error": None,
                "archived": False,
                "options": options,
                "inserted_at": now,
                "updated_at": now,
            },
        ),
        slots=Bulk("slots", _SLOT_COLUMNS),
        sections=Bulk("sections", _SECTION_COLUMNS),
        tags=Bulk("item_tags", ("item_id", "name", "value")),
        jobs=Bulk(
            "jobs",
            ("id", "item_id", "slot_id"),
            constants={
                "team_id": team_id,
                "kind": "process_slot",
                "status": "queued",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            },
        ),
        folders=set(),
    )
    paths: set[str] = set()
    item_rows, slot_rows, section_rows = out.items.rows, out.slots.rows, out.sections.rows
    for item in items:
        iid = item.id
        paths.add(item.path)
        item_rows.append(
            (iid, item.name, item.path, item.priority, item.size_bytes, item.slots[0].type,
             item.layout)
        )  # fmt: skip
        if item.tags:
            out.tags.rows.extend((iid, k, v) for k, v in item.tags.items())
        for position, slot in enumerate(item.slots):
            _finish_slot(slot, readonly=readonly)
            sid = slot.id
            slot_rows.append(
                (sid, iid, position, slot.slot_name, slot.type, slot.kind, slot.file_name,
                 slot.storage_key, slot.thumbnail_key, slot.size_bytes, slot.fps, slot.as_frames,
                 slot.extract_views, slot.metadata, slot.total_sections, _source_files(slot))
            )  # fmt: skip
            # only derivatives are sections; a series' own files went to source_files
            section_rows.extend(
                (sid, s.index, s.hq_key, s.lq_key, s.width, s.height)
                for s in slot.sections
                if s.hq_key
            )
            if not readonly:
                out.jobs.rows.append((next(job_ids), iid, sid))
    out.folders.update(_with_ancestors(paths))
    return out


def _with_ancestors(paths: Iterable[str]) -> set[str]:
    return {p for path in paths for p in folder_and_ancestors(path)}
