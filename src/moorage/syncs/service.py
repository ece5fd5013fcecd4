"""Syncs as the API sees them: start one, read it, list them, cancel one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.datasets.service import dataset_service
from moorage.errors import BadRequest, Conflict, NotFound, ValidationFailed
from moorage.kit.cursor import decode_cursor, encode_cursor
from moorage.models import Dataset, StorageConfig, Sync, Team
from moorage.models.base import utcnow
from moorage.storage.base import StorageError
from moorage.storages.service import storage_service
from moorage.syncs.diff import COUNTS
from moorage.syncs.repository import sync_repository
from moorage.syncs.schemas import SyncCreate
from moorage.syncs.watch import apply_key_events, open_event_source
from moorage.worker.dispatch import send_sync_after_commit

__all__ = ["SyncNotFound", "apply_key_events", "open_event_source", "sync_service"]

log = structlog.get_logger(__name__)

MAX_PAGE_SIZE = 100


class SyncNotFound(NotFound):
    pass


class SyncService:
    def create(
        self, session: Session, team: Team, *, dataset_slug: str, body: SyncCreate, ctx: AppContext
    ) -> Sync:
        dataset = dataset_service.get_by_slug(session, team, dataset_slug)
        storage = storage_service.for_registration(session, team, body.storage_slug)
        try:
            ctx.storages.adapter_for(session, storage)
        except StorageError as exc:
            raise ValidationFailed(
                f"Storage {storage.slug!r} cannot be used: {exc.message}", field="storage_slug"
            ) from None
        spec = body.model_dump(exclude={"storage_slug", "prefix"})
        sync = Sync(
            id=uuid.uuid4(),
            team_id=team.id,
            dataset_id=dataset.id,
            storage_id=storage.id,
            prefix=body.prefix,
            spec=spec,
            state="queued",
            counts=dict.fromkeys(COUNTS, 0),
            blocked=[],
            created_at=utcnow(),
            heartbeat_at=utcnow(),
        )
        session.add(sync)
        session.flush()
        send_sync_after_commit(session, sync.id)
        log.info(
            "sync.created",
            team=team.slug,
            dataset=dataset.slug,
            storage=storage.slug,
            sync=str(sync.id),
        )
        return sync

    def get(self, session: Session, team: Team, sync_id: uuid.UUID) -> Sync:
        sync = sync_repository.get(session, team, sync_id)
        if sync is None:
            raise SyncNotFound(f"Sync {str(sync_id)!r} does not exist.", field="id")
        return sync

    def cancel(self, session: Session, team: Team, sync_id: uuid.UUID) -> Sync:
        sync = self.get(session, team, sync_id)
        if sync.state in ("complete", "failed"):
            raise Conflict(f"The sync is already {sync.state}; nothing to cancel.", field="id")
        sync_repository.cancel(session, sync.id)
        session.refresh(sync)
        return sync

    def page(
        self, session: Session, team: Team, *, size: int, cursor: str | None
    ) -> dict[str, Any]:
        after = self._after(cursor) if cursor else None
        rows = list(sync_repository.page(session, team, size=size, after=after))
        more = len(rows) > size
        rows = rows[:size]
        next_cursor = (
            encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)], 0)
            if more and rows
            else None
        )
        return {
            "syncs": self.render_many(session, rows),
            "page": {"next": next_cursor, "count": len(rows)},
        }

    @staticmethod
    def _after(cursor: str) -> tuple[datetime, uuid.UUID]:
        value, _ = decode_cursor(cursor)
        try:
            created, sync_id = value
            return datetime.fromisoformat(created), uuid.UUID(sync_id)
        except (ValueError, TypeError):
            raise BadRequest(
                "page[from] is not a cursor this server issued.", field="page[from]"
            ) from None

    def render(self, session: Session, sync: Sync) -> dict[str, Any]:
        return self.render_many(session, [sync])[0]

    def render_many(self, session: Session, syncs: list[Sync]) -> list[dict[str, Any]]:
        datasets = {s.dataset_id for s in syncs}
        storages = {s.storage_id for s in syncs}
        ds_slugs = {i: session.get(Dataset, i) for i in datasets}
        st_slugs = {i: session.get(StorageConfig, i) for i in storages}
        out = []
        for s in syncs:
            dataset, storage = ds_slugs[s.dataset_id], st_slugs[s.storage_id]
            out.append(
                {
                    "id": str(s.id),
                    "dataset_slug": dataset.slug if dataset else None,
                    "storage_slug": storage.slug if storage else None,
                    "prefix": s.prefix,
                    "state": s.state,
                    "counts": {name: int((s.counts or {}).get(name, 0)) for name in COUNTS},
                    "blocked": list(s.blocked or []),
                    "options": dict(s.spec or {}),
                    "passes": s.passes,
                    "created_at": s.created_at.isoformat(),
                    "started_at": s.started_at.isoformat() if s.started_at else None,
                    "finished_at": s.finished_at.isoformat() if s.finished_at else None,
                    "next_run_at": s.next_run_at.isoformat() if s.next_run_at else None,
                    "error": s.error,
                }
            )
        return out


sync_service = SyncService()
