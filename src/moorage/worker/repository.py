"""Job rows: claiming, finishing, finding the stale ones.

Every UPDATE here runs with ``synchronize_session=False`` or on the table itself: none of them
changes a row the session holds as an object it reads afterwards (the ORM's evaluation of the
WHERE against the identity map cost ~0.3 ms a statement, four of them a job). A job's own
statements load no objects and go straight to the connection (``moorage.kit.statements``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from moorage.kit.detached import Columns, detached
from moorage.kit.statements import run
from moorage.models import Item, Job, Section, Slot, StorageConfig
from moorage.models.base import utcnow

_NO_SYNC = {"synchronize_session": False}
# A job's own statements, built once (building one costs more CPU than SQLite spends on it).
# Its UPDATEs and DELETEs are on the tables, not the ORM classes: an ORM-enabled UPDATE makes a
# new statement (and cache key) at every execution, ~40 us more than the same on the table.
_JOBS = cast(Table, Job.__table__)
_ITEMS = cast(Table, Item.__table__)
_SLOTS = cast(Table, Slot.__table__)
_SECTIONS = cast(Table, Section.__table__)
_STORAGES = cast(Table, StorageConfig.__table__)
#: the item's storage, read with the job's row (``storage_id`` None: it is gone)
STORAGE_COLUMNS = Columns(StorageConfig, "storage__")
_CLAIM = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("job_id"), _JOBS.c.status == "queued")
    .values(status="running", attempts=_JOBS.c.attempts + 1, updated_at=bindparam("now"))
    .returning(_JOBS.c.attempts)
)
_CLAIM_ATTEMPT = _CLAIM.where(_JOBS.c.attempts == bindparam("attempt"))
_STARTED = (
    update(_ITEMS)
    .where(
        _ITEMS.c.id
        == select(_JOBS.c.item_id).where(_JOBS.c.id == bindparam("job_id")).scalar_subquery(),
        _ITEMS.c.processing_status == "uploading_confirmed",
    )
    .values(processing_status="processing", updated_at=bindparam("now"))
)
_HELD = (
    _JOBS.c.id == bindparam("job_id"),
    _JOBS.c.status == "running",
    _JOBS.c.attempts == bindparam("token"),
)
# each twice: a None error is SQL NULL (a bound None would be stored as JSON ``null``)
_FINISH = (
    update(_JOBS).where(*_HELD).values(status=bindparam("to_status"), updated_at=bindparam("now"))
)
_FINISH_ERROR = (_FINISH.values(error=None), _FINISH.values(error=bindparam("to_error")))
_ITEM_STATUS = (
    update(_ITEMS)
    .where(_ITEMS.c.id == bindparam("item_id"))
    .values(
        processing_status=bindparam("processing"),
        status=bindparam("to_status"),
        updated_at=bindparam("now"),
    )
)
_ITEM_ERROR = (
    _ITEM_STATUS.values(processing_error=None),
    _ITEM_STATUS.values(processing_error=bindparam("to_error")),
)
_JOB_STATUSES = select(_JOBS.c.status).where(_JOBS.c.item_id == bindparam("item_id"))
#: the item ``complete`` (as ``set_item_status(processing="complete", status="new")``) when none
#: of its jobs is anything but done, in one statement instead of reading the statuses first
_COMPLETE_WHEN_DONE = (
    update(_ITEMS)
    .where(
        _ITEMS.c.id == bindparam("item_id"),
        ~exists().where(_JOBS.c.item_id == bindparam("item_id"), _JOBS.c.status != "done"),
    )
    .values(
        processing_status="complete",
        status="new",
        processing_error=None,
        updated_at=bindparam("now"),
    )
)
_ITEM = select(Item).where(Item.id == bindparam("item_id"))
_ITEM_LOCKED = select(_ITEMS.c.id).where(_ITEMS.c.id == bindparam("item_id")).with_for_update()
#: what a job works on, in one row: its slot's columns and its item's storage
_WORK = (
    select(
        _JOBS.c.item_id,
        _JOBS.c.slot_id,
        _SLOTS.c.kind,
        _SLOTS.c.storage_key,
        _SLOTS.c.file_name,
        _SLOTS.c.source_files,
        _SLOTS.c.storage_thumbnail_key,
        _SLOTS.c.metadata.label("meta"),
        _SLOTS.c.fps,
        _SLOTS.c.as_frames,
        _SLOTS.c.extract_views,
        _ITEMS.c.storage_id,
        *STORAGE_COLUMNS.labelled,
    )
    .join(_SLOTS, _SLOTS.c.id == _JOBS.c.slot_id)
    .join(_ITEMS, _ITEMS.c.id == _JOBS.c.item_id)
    .outerjoin(_STORAGES, _STORAGES.c.id == _ITEMS.c.storage_id)
    .where(_JOBS.c.id == bindparam("job_id"))
)
_SLOTS_OF = select(Slot).where(Slot.item_id == bindparam("item_id"))
_SLOT_STATE = select(
    _SLOTS.c.size_bytes, _SLOTS.c.metadata.label("meta"), _SLOTS.c.storage_thumbnail_key
).where(_SLOTS.c.id == bindparam("slot_id"))
_SLOT_SIZE = (
    update(_SLOTS).where(_SLOTS.c.id == bindparam("slot_id")).values(size_bytes=bindparam("size"))
)
_SLOT_RESULT = _SLOT_SIZE.values(
    metadata=bindparam("meta"),
    total_sections=bindparam("total_sections"),
    storage_thumbnail_key=bindparam("thumbnail_key"),
    derivatives_storage_id=bindparam("derivatives_storage_id"),
)
_DROP_SECTIONS = delete(_SECTIONS).where(_SECTIONS.c.slot_id == bindparam("slot_id"))
_ADD_SECTIONS = insert(_SECTIONS)


class JobRepository:
    """Every state change of a job is one atomic UPDATE guarded by the state it expects.

    ``attempts`` doubles as the lease token: a claim bumps it, and the heartbeat, the finish
    and the hand-back of that run only touch the row while it is ``running`` with that number.
    """

    def claim(self, session: Session, job_id: uuid.UUID, *, attempt: int | None) -> int | None:
        """Take a queued job; returns its new attempt number (the lease token) or None.

        ``attempt``: the attempts the message was sent for; a message sent for an earlier
        round (a duplicate) finds the number moved on and takes nothing. One atomic UPDATE, so
        two workers handed the same job never both run it.
        """
        params: dict[str, Any] = {"job_id": job_id, "now": utcnow()}
        if attempt is None:
            row = run(session, _CLAIM, params).first()
        else:
            row = run(session, _CLAIM_ATTEMPT, {**params, "attempt": attempt}).first()
        if row is None:
            return None
        # an uploaded item waits as ``uploading_confirmed`` until its first job starts
        run(session, _STARTED, params)
        return int(row[0])

    def get(self, session: Session, job_id: uuid.UUID) -> Job | None:
        return session.get(Job, job_id)

    def _held(self, job_id: uuid.UUID, token: int) -> Any:
        return (
            update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.attempts == token)
            .execution_options(synchronize_session=False)
        )

    def heartbeat(
        self,
        session: Session,
        job_id: uuid.UUID,
        *,
        token: int,
        progress: dict[str, Any] | None = None,
    ) -> bool:
        """Still ours: refresh ``updated_at`` (and the progress). False once taken back."""
        values: dict[str, Any] = {"updated_at": utcnow()}
        if progress is not None:
            values["progress"] = progress
        result = session.execute(self._held(job_id, token).values(**values))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def set_progress(self, session: Session, job_id: uuid.UUID, progress: dict[str, Any]) -> None:
        session.execute(update(Job).where(Job.id == job_id).values(progress=progress))

    def finish(
        self,
        session: Session,
        job_id: uuid.UUID,
        *,
        token: int,
        status: str,
        error: dict[str, Any] | None = None,
    ) -> bool:
        params = {"job_id": job_id, "token": token, "to_status": status, "to_error": error}
        stmt = _FINISH_ERROR[error is not None]
        result = run(session, stmt, {**params, "now": utcnow()})
        return bool(result.rowcount)

    def requeue(self, session: Session, job_id: uuid.UUID, *, token: int) -> bool:
        """Back to queued (a transient failure, or handed back on shutdown)."""
        result = session.execute(
            self._held(job_id, token).values(status="queued", updated_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def item_job_statuses(self, session: Session, item_id: uuid.UUID) -> list[str]:
        return list(session.scalars(_JOB_STATUSES, {"item_id": item_id}))

    def complete_when_done(self, session: Session, item_id: uuid.UUID) -> bool:
        """The item ``complete`` if every job of it is done (the caller's among them); True
        when it was."""
        result = run(session, _COMPLETE_WHEN_DONE, {"item_id": item_id, "now": utcnow()})
        return bool(result.rowcount)

    def take_back_silent(
        self, session: Session, *, silent_since: datetime, limit: int
    ) -> list[tuple[uuid.UUID, int]]:
        """Running jobs whose heartbeat stopped before ``silent_since`` go back to queued.

        Returns ``(id, attempts)`` of the rows this call changed: the WHERE is re-checked on
        each row as it is updated, so of several reconcilers each job goes to exactly one.
        """
        return self._requeue_where(
            session, and_(Job.status == "running", Job.updated_at < silent_since), limit
        )

    def touch_waiting(
        self, session: Session, *, before: datetime, limit: int
    ) -> list[tuple[uuid.UUID, int]]:
        """The oldest jobs queued since before ``before``, marked as sent now (to be re-sent)."""
        return self._requeue_where(
            session, and_(Job.status == "queued", Job.updated_at < before), limit
        )

    def take_back(self, session: Session, job_id: uuid.UUID) -> list[tuple[uuid.UUID, int]]:
        """The job back to queued if it is running (its worker died): ``(id, attempts)`` to
        send again, or nothing. A run still alive elsewhere then records nothing."""
        return self._requeue_where(session, and_(Job.id == job_id, Job.status == "running"), 1)

    def _requeue_where(
        self, session: Session, where: Any, limit: int
    ) -> list[tuple[uuid.UUID, int]]:
        if limit <= 0:
            return []
        oldest = select(Job.id).where(where).order_by(Job.updated_at).limit(limit)
        rows = session.execute(
            update(Job)
            .where(Job.id.in_(oldest.scalar_subquery()), where)
            .values(status="queued", updated_at=utcnow())
            .returning(Job.id, Job.attempts)
            .execution_options(synchronize_session=False)
        ).all()
        return [(row[0], int(row[1])) for row in rows]

    def requeue_items(self, session: Session, team_id: int, item_ids: Any) -> list[uuid.UUID]:
        """Queue again every job of these items that is not running (done, error or queued):
        a re-process reads the current object. Returns the jobs queued."""
        rows = session.execute(
            update(Job)
            .where(Job.team_id == team_id, Job.item_id.in_(item_ids), Job.status != "running")
            .values(status="queued", error=None, progress=None, updated_at=utcnow())
            .returning(Job.id, Job.item_id)
            .execution_options(synchronize_session=False)
        ).all()
        job_ids = [row[0] for row in rows]
        items = {row[1] for row in rows}
        if items:
            session.execute(
                update(Item)
                .where(Item.id.in_(items))
                .values(processing_status="processing", processing_error=None)
                .execution_options(synchronize_session=False)
            )
        return job_ids

    def count_queued(self, session: Session) -> int:
        return int(session.scalar(select(func.count()).where(Job.status == "queued")) or 0)

    def progress_of(self, session: Session, item_id: uuid.UUID) -> dict[str, Any] | None:
        rows = session.execute(select(Job.status, Job.progress).where(Job.item_id == item_id)).all()
        if not rows:
            return None
        done = sum(1 for status, _ in rows if status == "done")
        frames = [p for _, p in rows if p]
        out: dict[str, Any] = {"jobs_total": len(rows), "jobs_done": done}
        if frames:
            out["sections_done"] = sum(int(p.get("done", 0)) for p in frames)
            out["sections_total"] = sum(int(p.get("total", 0)) for p in frames)
        return out

    def set_item_status(
        self,
        session: Session,
        item_id: uuid.UUID,
        *,
        processing: str,
        status: str,
        error: dict[str, Any] | None = None,
    ) -> None:
        params = {"item_id": item_id, "processing": processing, "to_status": status}
        stmt = _ITEM_ERROR[error is not None]
        run(session, stmt, {**params, "to_error": error, "now": utcnow()})


class WorkRepository:
    """The item, slot, sections and storage a job works on."""

    def work_row(self, session: Session, job_id: uuid.UUID) -> Row[Any] | None:
        """The job's item and slot ids, its slot's columns a run reads, its item's
        ``storage_id`` and that storage's columns (``STORAGE_COLUMNS``, None when it is gone);
        None when the job, its slot or its item is gone."""
        return run(session, _WORK, {"job_id": job_id}).one_or_none()

    def storage_of(self, row: Row[Any]) -> StorageConfig | None:
        """The storage ``work_row`` read, as an object in no session (read it, never add it:
        ``moorage.kit.detached``); None when it is gone."""
        if row._mapping[f"{STORAGE_COLUMNS.prefix}id"] is None:
            return None
        return detached(STORAGE_COLUMNS, row._mapping)

    def source_files(self, slot: Slot | Row[Any]) -> list[dict[str, str]]:
        """The files the slot is made from: its one file, or the files of its series in order
        (written once at registration, never changed by processing)."""
        if slot.source_files:
            return [dict(f) for f in slot.source_files]
        return [{"storage_key": slot.storage_key, "file_name": slot.file_name}]

    def sections(self, session: Session, slot_id: uuid.UUID) -> Sequence[Section]:
        return session.scalars(
            select(Section).where(Section.slot_id == slot_id).order_by(Section.section_index)
        ).all()

    def slot_state(self, session: Session, slot_id: uuid.UUID) -> Row[Any] | None:
        """The slot's ``size_bytes``, ``meta`` and ``storage_thumbnail_key``, None if gone."""
        return run(session, _SLOT_STATE, {"slot_id": slot_id}).one_or_none()

    def set_slot_size(self, session: Session, slot_id: uuid.UUID, *, size: int | None) -> None:
        run(session, _SLOT_SIZE, {"slot_id": slot_id, "size": size})

    def set_slot_result(
        self,
        session: Session,
        slot_id: uuid.UUID,
        *,
        size: int | None,
        meta: dict[str, Any],
        total_sections: int,
        thumbnail_key: str | None,
        derivatives_storage_id: int | None,
    ) -> None:
        params = {
            "slot_id": slot_id,
            "size": size,
            "meta": meta,
            "total_sections": total_sections,
            "thumbnail_key": thumbnail_key,
            "derivatives_storage_id": derivatives_storage_id,
        }
        run(session, _SLOT_RESULT, params)

    def replace_section_rows(
        self, session: Session, slot_id: uuid.UUID, rows: list[dict[str, Any]]
    ) -> None:
        """The slot's sections are these rows (none: it has none)."""
        run(session, _DROP_SECTIONS, {"slot_id": slot_id})
        if rows:
            run(session, _ADD_SECTIONS, rows)

    def slots_of(self, session: Session, item_id: uuid.UUID) -> Sequence[Slot]:
        return session.scalars(_SLOTS_OF, {"item_id": item_id}).all()

    def item(self, session: Session, item_id: uuid.UUID) -> Item | None:
        return session.scalars(_ITEM, {"item_id": item_id}).one_or_none()

    def lock_item(self, session: Session, item_id: uuid.UUID) -> None:
        """The item's row lock (PostgreSQL) for the rest of the transaction (its id only: the
        caller reads nothing of it).

        Nothing on SQLite: it has no row locks (``FOR UPDATE`` is dropped from the statement,
        leaving a plain read of the id); its writers are serialised by the database's write
        lock, which every transaction takes first (``BEGIN IMMEDIATE``, ``moorage.db``)."""
        if session.get_bind().dialect.name == "sqlite":
            return
        session.execute(_ITEM_LOCKED, {"item_id": item_id})

    def storage(self, session: Session, storage_id: int) -> StorageConfig | None:
        return session.get(StorageConfig, storage_id)


job_repository = JobRepository()
work_repository = WorkRepository()
