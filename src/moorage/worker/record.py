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
from moorage.models import Section, Slot
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
    slot = work_repository.slot(session, work.slot_id)
    if slot is None:
        return
    if slot.size_bytes is None:
        slot.size_bytes = outcome.size
    if outcome.result is not None:
        _record_result(session, slot, work, outcome, outcome.result)
    session.flush()


def _record_result(
    session: Session, slot: Slot, work: Work, outcome: Outcome, result: SlotResult
) -> None:
    meta: dict[str, Any] = {
        **slot.meta,
        **result.metadata,
        "width": result.width,
        "height": result.height,
    }
    if "hls" in meta:  # the playlists by key, as sections are: serving reads them from there
        meta["hls"] = hls_with_keys(meta["hls"], outcome.key)
    slot.meta = meta
    slot.total_sections = result.total_sections
    # derivatives kept in another storage: all of them are the worker's, the thumbnail too
    elsewhere = outcome.derivatives_storage_id is not None
    if result.thumbnail_name and (elsewhere or not slot.storage_thumbnail_key):
        slot.storage_thumbnail_key = outcome.key(result.thumbnail_name)
    slot.derivatives_storage_id = outcome.derivatives_storage_id
    sections = [
        Section(
            slot_id=slot.id,
            section_index=s.index,
            storage_hq_key=outcome.key(s.hq_name),
            storage_lq_key=outcome.key(s.lq_name) if s.lq_name else None,
            width=s.width,
            height=s.height,
        )
        for s in result.sections
    ]
    work_repository.replace_sections(session, slot.id, sections)


def hls_with_keys(hls: dict[str, Any], key: Callable[[str], str]) -> dict[str, Any]:
    out = dict(hls)
    for quality in ("high", "low"):
        if isinstance(out.get(quality), dict):
            out[quality] = {**out[quality], "playlist": key(out[quality]["playlist"])}
    return out


def finish_item(session: Session, item_id: uuid.UUID) -> None:
    """The last job of an item to finish makes it ``complete``."""
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
