"""What a job works on, read in one session and handed on as plain data (no ORM objects)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from moorage.models import Slot
from moorage.worker.repository import job_repository, work_repository

__all__ = ["Source", "Work", "read_work"]


@dataclass(frozen=True, slots=True)
class Source:
    """One file the slot is made from (a series has several)."""

    storage_key: str
    file_name: str


@dataclass(frozen=True, slots=True)
class Work:
    job_id: uuid.UUID
    token: int
    item_id: uuid.UUID
    slot_id: uuid.UUID
    kind: str
    storage_key: str
    fps: float | None
    as_frames: bool
    extract_views: bool
    storage_id: int
    provider: str
    prefix: str
    sources: tuple[Source, ...]
    #: the caller gave every derivative: use them as given, regenerate nothing
    supplied: bool
    started: float = field(default_factory=time.perf_counter)

    @property
    def first_key(self) -> str:
        return self.sources[0].storage_key


def read_work(session: Session, job_id: uuid.UUID, token: int) -> Work | None:
    """The job's slot, item and storage, or None when any of them was removed."""
    job = job_repository.get(session, job_id)
    if job is None:
        return None
    slot = work_repository.slot(session, job.slot_id)
    item = work_repository.item(session, job.item_id)
    if slot is None or item is None or item.storage_id is None:
        return None
    storage = work_repository.storage(session, item.storage_id)
    if storage is None:
        return None
    return Work(
        job_id=job_id,
        token=token,
        item_id=item.id,
        slot_id=slot.id,
        kind=slot.kind,
        storage_key=slot.storage_key,
        fps=slot.fps,
        as_frames=slot.as_frames,
        extract_views=slot.extract_views,
        storage_id=storage.id,
        provider=storage.provider,
        prefix=storage.prefix,
        sources=_source_files(slot),
        supplied=_supplied(session, slot),
    )


def _source_files(slot: Slot) -> tuple[Source, ...]:
    """The files of the slot: one, or the files of a series (written at registration)."""
    files = work_repository.source_files(slot)
    return tuple(Source(f["storage_key"], f.get("file_name") or "") for f in files)


def _supplied(session: Session, slot: Slot) -> bool:
    if not slot.storage_thumbnail_key:
        return False
    if slot.kind == "image":
        return bool(slot.meta.get("width"))
    rows = work_repository.sections(session, slot.id)
    return bool(rows) and all(r.storage_hq_key and r.storage_lq_key for r in rows)
