"""Writing a job's result: the slot's metadata and sections, and the item once all are done.

Runs inside the transaction that marks the job ``done`` under its lease, so a run that lost
its lease records nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from moorage.media import SlotResult
from moorage.storage.base import join_key
from moorage.worker.repository import job_repository, work_repository
from moorage.worker.work import Work

__all__ = ["Outcome", "finish_item", "record_outcome"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run made: ``result`` is None when the caller supplied every derivative."""

    folder: str
    size: int | None
    result: SlotResult | None
    #: the storage the derivatives went to when it is not the item's own
    derivatives_storage_id: int | None = None

    def key(self, name: str) -> str:
        return join_key(self.folder, name)


def record_outcome(session: Session, work: Work, outcome: Outcome) -> None:
    """The slot's size (when it had none), metadata, thumbnail and sections, as statements
    (no ORM object: its load and flush were a fifth of a job's CPU)."""
    slot = work_repository.slot_state(session, work.slot_id)
    if slot is None:
        return
    size = slot.size_bytes if slot.size_bytes is not None else outcome.size
    if outcome.result is None:
        work_repository.set_slot_size(session, work.slot_id, size=size)
        return
    result = outcome.result
    meta: dict[str, Any] = {
        **(slot.meta or {}),
        **result.metadata,
        "width": result.width,
        "height": result.height,
    }
    if "hls" in meta:  # the playlists by key, as sections are: serving reads them from there
        meta["hls"] = hls_with_keys(meta["hls"], outcome.key)
    # derivatives kept in another storage: all of them are the worker's, the thumbnail too
    elsewhere = outcome.derivatives_storage_id is not None
    thumbnail = slot.storage_thumbnail_key
    if result.thumbnail_name and (elsewhere or not thumbnail):
        thumbnail = outcome.key(result.thumbnail_name)
    work_repository.set_slot_result(
        session,
        work.slot_id,
        size=size,
        meta=meta,
        total_sections=result.total_sections,
        thumbnail_key=thumbnail,
        derivatives_storage_id=outcome.derivatives_storage_id,
    )
    sections = [
        {
            "slot_id": work.slot_id,
            "section_index": s.index,
            "storage_hq_key": outcome.key(s.hq_name),
            "storage_lq_key": outcome.key(s.lq_name) if s.lq_name else None,
            "width": s.width,
            "height": s.height,
        }
        for s in result.sections
    ]
    work_repository.replace_section_rows(session, work.slot_id, sections)


def hls_with_keys(hls: dict[str, Any], key: Callable[[str], str]) -> dict[str, Any]:
    out = dict(hls)
    for quality in ("high", "low"):
        if isinstance(out.get(quality), dict):
            out[quality] = {**out[quality], "playlist": key(out[quality]["playlist"])}
    return out


def finish_item(session: Session, item_id: uuid.UUID, *, kind: str) -> None:
    """The last job of an item to finish makes it ``complete``. ``kind``: the finishing
    job's slot's; only an item whose slots are all DICOM has its layout arranged. Called once
    the finishing job is ``done``, so the item has at least that job."""
    if kind != "dicom":  # nothing to arrange: one statement checks and completes
        job_repository.complete_when_done(session, item_id)
        return
    statuses = job_repository.item_job_statuses(session, item_id)
    if statuses and all(s == "done" for s in statuses):
        _arrange_dicom_layout(session, item_id)
        job_repository.set_item_status(session, item_id, processing="complete", status="new")


def _arrange_dicom_layout(session: Session, item_id: uuid.UUID) -> None:
    """Without ``ignore_dicom_layout``, order a multi-slot DICOM item by the files' metadata."""
    item = work_repository.item(session, item_id)
    if item is None or item.options.get("ignore_dicom_layout"):
        return
    slots = work_repository.slots_of(session, item_id)
    if len(slots) < 2 or any(s.kind != "dicom" for s in slots):
        return
    ordered = sorted(slots, key=lambda s: (s.meta.get("layout_key") or [], s.position))
    names = [s.slot_name for s in ordered]
    if item.layout.get("version") == 1 and item.layout.get("slots") != names:
        item.layout = {**item.layout, "slots": names}
