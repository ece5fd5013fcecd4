"""Job rows: claiming, finishing, finding the stale ones."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from moorage.models import Item, Job, Section, Slot, StorageConfig
from moorage.models.base import utcnow


class JobRepository:
    def claim(self, session: Session, job_id: uuid.UUID, *, stale_after: timedelta) -> bool:
        """Take a job if it is queued, or running but silent past ``stale_after`` (a crash).

        One atomic UPDATE, so two workers handed the same job never both run it.
        """
        now = utcnow()
        result = session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                or_(
                    Job.status == "queued",
                    and_(Job.status == "running", Job.updated_at < now - stale_after),
                ),
            )
            .values(status="running", attempts=Job.attempts + 1, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def get(self, session: Session, job_id: uuid.UUID) -> Job | None:
        return session.get(Job, job_id)

    def heartbeat(self, session: Session, job_id: uuid.UUID, progress: dict[str, Any]) -> None:
        session.execute(
            update(Job).where(Job.id == job_id).values(progress=progress, updated_at=utcnow())
        )

    def finish(
        self,
        session: Session,
        job_id: uuid.UUID,
        *,
        status: str,
        error: dict[str, Any] | None = None,
    ) -> None:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status=status, error=error, updated_at=utcnow())
        )

    def requeue(self, session: Session, job_id: uuid.UUID) -> None:
        """Back to queued after a transient failure, for the retry or the reconciler."""
        session.execute(
            update(Job).where(Job.id == job_id).values(status="queued", updated_at=utcnow())
        )

    def item_job_statuses(self, session: Session, item_id: uuid.UUID) -> list[str]:
        return list(session.scalars(select(Job.status).where(Job.item_id == item_id)))

    def stale(
        self, session: Session, *, queued_before: datetime, running_before: datetime, limit: int
    ) -> Sequence[uuid.UUID]:
        return session.scalars(
            select(Job.id)
            .where(
                or_(
                    and_(Job.status == "queued", Job.updated_at < queued_before),
                    and_(Job.status == "running", Job.updated_at < running_before),
                )
            )
            .order_by(Job.updated_at)
            .limit(limit)
        ).all()

    def requeue_many(self, session: Session, job_ids: Sequence[uuid.UUID]) -> None:
        """Mark jobs queued again (a stale running one's worker is taken to be dead)."""
        if job_ids:
            session.execute(
                update(Job).where(Job.id.in_(job_ids)).values(status="queued", updated_at=utcnow())
            )

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
        session.execute(
            update(Item)
            .where(Item.id == item_id)
            .values(
                processing_status=processing,
                status=status,
                processing_error=error,
                updated_at=utcnow(),
            )
        )

    def count_by_status(self, session: Session) -> dict[str, int]:
        return {
            s: n for s, n in session.execute(select(Job.status, func.count()).group_by(Job.status))
        }


class WorkRepository:
    """The item, slot, sections and storage a job works on."""

    def sections(self, session: Session, slot_id: uuid.UUID) -> Sequence[Section]:
        return session.scalars(
            select(Section).where(Section.slot_id == slot_id).order_by(Section.section_index)
        ).all()

    def replace_sections(
        self, session: Session, slot_id: uuid.UUID, sections: list[Section]
    ) -> None:
        session.execute(delete(Section).where(Section.slot_id == slot_id))
        session.add_all(sections)

    def slot(self, session: Session, slot_id: uuid.UUID) -> Slot | None:
        return session.get(Slot, slot_id)

    def slots_of(self, session: Session, item_id: uuid.UUID) -> Sequence[Slot]:
        return session.scalars(select(Slot).where(Slot.item_id == item_id)).all()

    def item(self, session: Session, item_id: uuid.UUID, *, lock: bool = False) -> Item | None:
        """The item; ``lock`` takes its row lock (PostgreSQL) for the rest of the transaction."""
        stmt = select(Item).where(Item.id == item_id)
        if lock:
            stmt = stmt.with_for_update()
        return session.scalars(stmt).one_or_none()

    def storage(self, session: Session, storage_id: int) -> StorageConfig | None:
        return session.get(StorageConfig, storage_id)


job_repository = JobRepository()
work_repository = WorkRepository()
