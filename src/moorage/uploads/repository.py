"""Upload rows, the storage that receives a team's uploads, and the rows an upload changes."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from moorage.models import Item, Job, Slot, StorageConfig, Team, Upload
from moorage.models.base import utcnow


class UploadRepository:
    def upload_storage(self, session: Session, team: Team) -> StorageConfig | None:
        """The storage the operator named for uploads, else the team's default."""
        rows = session.scalars(
            select(StorageConfig).where(
                StorageConfig.team_id == team.id,
                StorageConfig.receives_uploads.is_(True) | StorageConfig.is_default.is_(True),
            )
        ).all()
        named = [r for r in rows if r.receives_uploads]
        found = named or list(rows)
        return found[0] if found else None

    def name_upload_storage(
        self, session: Session, team: Team, storage: StorageConfig | None
    ) -> None:
        session.execute(
            update(StorageConfig)
            .where(StorageConfig.team_id == team.id)
            .values(receives_uploads=False)
        )
        if storage is not None:
            storage.receives_uploads = True

    def storage(self, session: Session, team_id: int, storage_id: int) -> StorageConfig | None:
        return session.scalars(
            select(StorageConfig).where(
                StorageConfig.team_id == team_id, StorageConfig.id == storage_id
            )
        ).one_or_none()

    def add_many(self, session: Session, rows: list[dict[str, Any]]) -> None:
        if rows:
            session.execute(insert(Upload), rows)

    def get(self, session: Session, team_id: int, upload_id: uuid.UUID) -> Upload | None:
        return session.scalars(
            select(Upload).where(Upload.team_id == team_id, Upload.id == upload_id)
        ).one_or_none()

    def mark_received(self, session: Session, upload: Upload, *, size: int) -> bool:
        """``pending`` -> ``received``; False if another PUT got there first."""
        done = session.execute(
            update(Upload)
            .where(Upload.id == upload.id, Upload.status == "pending")
            .values(status="received", received_bytes=size, updated_at=utcnow())
        )
        return bool(getattr(done, "rowcount", 0))

    def confirm(self, session: Session, upload: Upload, *, size: int) -> None:
        upload.status = "confirmed"
        upload.received_bytes = size
        session.execute(update(Slot).where(Slot.id == upload.slot_id).values(size_bytes=size))

    def unconfirmed_of_item(self, session: Session, item_id: uuid.UUID) -> int:
        return int(
            session.scalar(
                select(func.count()).where(Upload.item_id == item_id, Upload.status != "confirmed")
            )
            or 0
        )

    def start_processing(
        self, session: Session, upload: Upload, *, now: datetime
    ) -> list[uuid.UUID]:
        """Every slot's job of the upload's item, and the item ``uploading_confirmed``."""
        slots = session.execute(
            select(Slot.id, Slot.size_bytes).where(Slot.item_id == upload.item_id)
        ).all()
        ids = [uuid.uuid4() for _ in slots]
        jobs = [
            {
                "id": job_id,
                "team_id": upload.team_id,
                "item_id": upload.item_id,
                "slot_id": slot_id,
                "kind": "process_slot",
                "status": "queued",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            for job_id, (slot_id, _) in zip(ids, slots, strict=True)
        ]
        session.execute(insert(Job), jobs)
        sizes = [s for _, s in slots if s is not None]
        session.execute(
            update(Item)
            .where(Item.id == upload.item_id, Item.team_id == upload.team_id)
            .values(
                processing_status="uploading_confirmed",
                status="processing",
                size_bytes=sum(sizes) if sizes else None,
                updated_at=now,
            )
        )
        return ids

    def expired_items(self, session: Session, *, now: datetime, limit: int) -> list[uuid.UUID]:
        """Items with an upload not confirmed in time, oldest first."""
        return list(
            session.scalars(
                select(Upload.item_id)
                .where(Upload.status != "confirmed", Upload.expires_at < now)
                .group_by(Upload.item_id)
                .order_by(func.min(Upload.expires_at))
                .limit(limit)
            )
        )

    def uploads_of(self, session: Session, item_ids: Collection[uuid.UUID]) -> Sequence[Upload]:
        return session.scalars(select(Upload).where(Upload.item_id.in_(item_ids))).all()

    def delete_items(self, session: Session, item_ids: Collection[uuid.UUID]) -> None:
        """The items (their slots, tags, jobs and uploads go with them)."""
        session.execute(delete(Item).where(Item.id.in_(item_ids)))

    def forget_confirmed(self, session: Session, *, now: datetime) -> int:
        """Confirmed uploads past their expiry: their items live on, the rows are done."""
        done = session.execute(
            delete(Upload).where(Upload.status == "confirmed", Upload.expires_at < now)
        )
        return int(getattr(done, "rowcount", 0))


upload_repository = UploadRepository()
