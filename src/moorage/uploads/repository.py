"""Upload rows, the storage that receives a team's uploads, and the rows an upload changes."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from moorage.kit.detached import Columns, detached
from moorage.kit.statements import run
from moorage.models import Item, Job, Slot, StorageConfig, Team, Upload
from moorage.models.base import utcnow

# The statements of sign, PUT and confirm, built once: building one costs more CPU than SQLite
# spends running it (~0.1 ms each, a dozen a file). No UPDATE here changes an object the
# session reads afterwards.
_STORAGE = select(StorageConfig).where(
    StorageConfig.team_id == bindparam("team_id"), StorageConfig.id == bindparam("id")
)
_UPLOAD_COLUMNS = Columns(Upload, "upload__")
_STORAGE_COLUMNS = Columns(StorageConfig, "storage__")
#: the upload and its storage (of the same team; None when it was removed) in one row
_GET_WITH_STORAGE = (
    select(*_UPLOAD_COLUMNS.labelled, *_STORAGE_COLUMNS.labelled)
    .select_from(Upload)
    .outerjoin(
        StorageConfig,
        (StorageConfig.id == Upload.storage_id) & (StorageConfig.team_id == Upload.team_id),
    )
    .where(Upload.team_id == bindparam("team_id"), Upload.id == bindparam("id"))
)
# The UPDATEs are on the tables, not the ORM classes: an ORM-enabled UPDATE makes a new
# statement (and cache key) at every execution, ~40 us more than the same on the table.
_UPLOADS = cast(Table, Upload.__table__)
_SLOTS = cast(Table, Slot.__table__)
_ITEMS = cast(Table, Item.__table__)
_JOBS = cast(Table, Job.__table__)
#: on the table, not the class: an ORM-enabled ``insert(Job)`` is built anew and goes through the
#: ORM's bulk persistence at every call (~0.2 ms a confirm)
_ADD_JOBS = insert(_JOBS)
_RECEIVED = (
    update(_UPLOADS)
    .where(
        _UPLOADS.c.id == bindparam("upload_id"),
        _UPLOADS.c.team_id == bindparam("upload_team"),
        _UPLOADS.c.status == "pending",
    )
    .values(status="received", received_bytes=bindparam("size"), updated_at=bindparam("now"))
)
_CONFIRMED = (
    update(_UPLOADS)
    .where(_UPLOADS.c.id == bindparam("upload_id"), _UPLOADS.c.team_id == bindparam("upload_team"))
    .values(status="confirmed", received_bytes=bindparam("size"), updated_at=bindparam("now"))
)
_SLOT_SIZE = (
    update(_SLOTS).where(_SLOTS.c.id == bindparam("slot_id")).values(size_bytes=bindparam("size"))
)
#: the item's slots, none while an upload of it is not confirmed (one statement, not two)
_SLOTS_ONCE_CONFIRMED = select(Slot.id, Slot.size_bytes).where(
    Slot.item_id == bindparam("item_id"),
    ~exists().where(Upload.item_id == bindparam("item_id"), Upload.status != "confirmed"),
)
_PROCESSING = (
    update(_ITEMS)
    .where(_ITEMS.c.id == bindparam("item_id"), _ITEMS.c.team_id == bindparam("item_team"))
    .values(
        processing_status="uploading_confirmed",
        status="processing",
        size_bytes=bindparam("size"),
        updated_at=bindparam("now"),
    )
)


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
        return session.scalars(_STORAGE, {"team_id": team_id, "id": storage_id}).one_or_none()

    def add_many(self, session: Session, rows: list[dict[str, Any]]) -> None:
        if rows:
            session.execute(insert(Upload), rows)

    def get_with_storage(
        self, session: Session, team_id: int, upload_id: uuid.UUID
    ) -> tuple[Upload, StorageConfig | None] | None:
        """The upload and its storage (None if removed), read in one row as objects in no
        session (``moorage.kit.detached``: read them, never change or add them); None when
        the team has no such upload."""
        row = run(session, _GET_WITH_STORAGE, {"team_id": team_id, "id": upload_id}).first()
        if row is None:
            return None
        values = row._mapping
        upload = detached(_UPLOAD_COLUMNS, values)
        if values[f"{_STORAGE_COLUMNS.prefix}id"] is None:
            return upload, None
        return upload, detached(_STORAGE_COLUMNS, values)

    def mark_received(
        self, session: Session, team_id: int, upload_id: uuid.UUID, *, size: int
    ) -> bool:
        """``pending`` -> ``received``; False if another PUT got there first, or the upload is
        gone (cleaned meanwhile)."""
        params = {"upload_id": upload_id, "upload_team": team_id, "size": size, "now": utcnow()}
        return bool(run(session, _RECEIVED, params).rowcount)

    def confirm(self, session: Session, upload: Upload, *, size: int) -> None:
        """The upload ``confirmed`` with its size, and its slot's size (statements: the
        ``upload`` object is not changed, and nothing reads its status afterwards)."""
        params = {"upload_id": upload.id, "upload_team": upload.team_id, "size": size}
        run(session, _CONFIRMED, {**params, "now": utcnow()})
        run(session, _SLOT_SIZE, {"slot_id": upload.slot_id, "size": size})

    def slots_once_confirmed(
        self, session: Session, item_id: uuid.UUID
    ) -> Sequence[Row[uuid.UUID, int | None]]:
        """The item's slots (``id``, ``size_bytes``) when every upload of it is confirmed, else
        none."""
        return run(session, _SLOTS_ONCE_CONFIRMED, {"item_id": item_id}).all()

    def start_processing(
        self,
        session: Session,
        upload: Upload,
        *,
        slots: Sequence[Row[uuid.UUID, int | None]],
        now: datetime,
    ) -> list[uuid.UUID]:
        """Every slot's job of the upload's item (``slots``: its ``slots_once_confirmed``), and
        the item ``uploading_confirmed``."""
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
        if jobs:  # an empty list would be one INSERT of the columns' defaults
            run(session, _ADD_JOBS, jobs)
        sizes = [s for _, s in slots if s is not None]
        params = {
            "item_id": upload.item_id,
            "item_team": upload.team_id,
            "size": sum(sizes) if sizes else None,
            "now": now,
        }
        run(session, _PROCESSING, params)
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
        """The items and their jobs (their slots, tags and uploads go with them by cascade;
        an uploaded item has no sync key)."""
        session.execute(delete(Job).where(Job.item_id.in_(item_ids)))
        session.execute(delete(Item).where(Item.id.in_(item_ids)))

    def forget_confirmed(self, session: Session, *, now: datetime) -> int:
        """Confirmed uploads past their expiry: their items live on, the rows are done."""
        done = session.execute(
            delete(Upload).where(Upload.status == "confirmed", Upload.expires_at < now)
        )
        return int(getattr(done, "rowcount", 0))


upload_repository = UploadRepository()
