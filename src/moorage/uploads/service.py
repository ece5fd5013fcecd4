"""Uploads: register the items (as register_existing does, the files to come), hand out a
capability URL per file, take the bytes, and start processing once every file is confirmed."""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import structlog
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.datasets.service import dataset_service
from moorage.errors import NotFound, PayloadTooLarge, ValidationFailed
from moorage.models import StorageConfig, Team, Upload
from moorage.models.base import utcnow
from moorage.registration.model import RegistrationResult
from moorage.registration.normalize import normalize_item
from moorage.registration.repository import registration_repository
from moorage.registration.service import registration_service
from moorage.storage.base import ObjectNotFound, StorageAdapter, StorageError
from moorage.storage.factory import signs_puts
from moorage.storages.service import storage_service
from moorage.uploads.errors import (
    UploadExpired,
    UploadNotReceived,
    UploadTooLarge,
    UploadUrlRefused,
    UploadUsed,
)
from moorage.uploads.payload import prepare_item
from moorage.uploads.repository import upload_repository
from moorage.uploads.rows import check_uploads, item_rows, response, upload_rows
from moorage.uploads.schemas import UploadRequest
from moorage.worker.dispatch import send_after_commit

__all__ = ["PUT_PATH", "PutTarget", "UploadService", "upload_service"]

log = structlog.get_logger(__name__)

#: where a capability URL points, under the server's base URL: ``{PUT_PATH}/{token}``
PUT_PATH = "/api/v2/uploads"


@dataclass(frozen=True, slots=True)
class PutTarget:
    """What a capability URL's token says: which upload, whose, how many bytes at most."""

    upload_id: uuid.UUID
    team_id: int
    max_bytes: int


@functools.lru_cache(maxsize=8)
def _serializer(key: bytes) -> URLSafeSerializer:
    """One serializer a key (stateless once made; making one was ~20 us a sign and a PUT)."""
    return URLSafeSerializer(key, salt="moorage-upload")


class UploadService:
    def _signer(self, ctx: AppContext) -> URLSafeSerializer:
        return _serializer(ctx.secrets.signing_key("upload"))

    # -- register_upload --------------------------------------------------------------------

    def register(
        self,
        session: Session,
        team: Team,
        *,
        payload: UploadRequest,
        ctx: AppContext,
        base_url: str,
    ) -> dict[str, Any]:
        """The Darwin response: ``items`` (each slot with its ``upload_id``) and
        ``blocked_items``. Flushed, not committed."""
        started = time.perf_counter()
        settings = ctx.settings
        if len(payload.items) > settings.max_items_per_request:
            raise PayloadTooLarge(
                f"A request may carry at most {settings.max_items_per_request} items; this one "
                f"has {len(payload.items)}. Split it into several requests.",
                field="items",
            )
        dataset = dataset_service.get_by_slug(session, team, payload.dataset_slug)
        storage = self._upload_storage(session, team)
        prepared = [prepare_item(raw, storage.prefix) for raw in payload.items]
        items = [normalize_item(i, p.raw) for i, p in enumerate(prepared)]
        registration_service.check_without_files(session, dataset.id, items)
        check_uploads(items, prepared, settings.max_upload_bytes)
        accepted = [i for i in items if not i.blocked]
        now = utcnow()
        rows = item_rows(accepted, team, dataset.id, storage, payload, now)
        inserted = registration_repository.write(session, rows, dataset.id)
        for item in accepted:
            if item.id not in inserted:
                item.block(
                    "ALREADY_EXISTS",
                    f"An item named {item.name!r} already exists at path {item.path!r}.",
                )
        registered = [i for i in accepted if i.id in inserted]
        uploads = upload_rows(registered, prepared, team, storage, now, settings)
        upload_repository.add_many(session, uploads)
        session.flush()
        result = RegistrationResult(
            registered=registered,
            blocked=[i for i in items if i.blocked],
            job_ids=[],
            team_slug=team.slug,
            dataset_id=dataset.id,
            readonly=False,
            registered_at=now,
            base_url=base_url,
        )
        log.info(
            "uploads.registered",
            team=team.slug,
            dataset=dataset.slug,
            storage=storage.slug,
            registered=len(registered),
            blocked=len(result.blocked),
            seconds=round(time.perf_counter() - started, 3),
        )
        return response(result, {u["slot_id"]: u["id"] for u in uploads})

    def _upload_storage(self, session: Session, team: Team) -> StorageConfig:
        storage = upload_repository.upload_storage(session, team)
        if storage is None:
            raise ValidationFailed(
                f"Team {team.slug!r} has no storage to receive uploads: add a read-write "
                "default storage (or the operator names one: moorage admin upload-storage).",
                field="storage",
            )
        if storage.readonly:
            raise ValidationFailed(
                f"The storage {storage.slug!r} that receives uploads is read-only; uploads need "
                "a read-write storage.",
                field="storage",
            )
        return storage

    def name_storage(self, session: Session, team: Team, slug: str | None) -> dict[str, Any]:
        """The operator names the storage that receives uploads (``None``: the default's)."""
        named = None
        if slug is not None:
            named = storage_service.get(session, team, slug)
            if named.readonly:
                raise ValidationFailed(
                    f"The storage {slug!r} is read-only; uploads need a read-write storage.",
                    field="storage",
                )
        upload_repository.name_upload_storage(session, team, named)
        session.flush()
        receiving = self._upload_storage(session, team)
        return {"team": team.slug, "upload_storage": receiving.slug, "named": named is not None}

    # -- sign, PUT, confirm -----------------------------------------------------------------

    def _get(
        self, session: Session, team: Team, upload_id: uuid.UUID
    ) -> tuple[Upload, StorageConfig | None]:
        """The upload and its storage, read in one row (objects in no session: read only)."""
        found = upload_repository.get_with_storage(session, team.id, upload_id)
        if found is None:
            raise NotFound(f"Upload {str(upload_id)!r} does not exist.", field="upload_id")
        return found

    @staticmethod
    def _present(storage: StorageConfig | None) -> StorageConfig:
        if storage is None:
            raise NotFound("The storage of this upload was removed.", field="upload_id")
        return storage

    @staticmethod
    def _check_open(upload: Upload, now: datetime) -> None:
        if upload.status == "confirmed":
            raise UploadUsed("This upload is already confirmed.", field="upload_id")
        if upload.expires_at.replace(tzinfo=now.tzinfo) <= now:
            raise UploadExpired(
                "This upload expired before it was confirmed; register the file again.",
                field="upload_id",
            )

    @staticmethod
    def _storage(session: Session, upload: Upload) -> StorageConfig:
        storage = upload_repository.storage(session, upload.team_id, upload.storage_id)
        if storage is None:
            raise NotFound("The storage of this upload was removed.", field="upload_id")
        return storage

    def _adapter(self, session: Session, ctx: AppContext, upload: Upload) -> StorageAdapter:
        return ctx.storages.adapter_for(session, self._storage(session, upload))

    def sign(
        self, session: Session, team: Team, *, upload_id: uuid.UUID, ctx: AppContext, base_url: str
    ) -> dict[str, str]:
        """``{"upload_url"}``: a presigned PUT of the storage, or moorage's capability URL."""
        upload, found = self._get(session, team, upload_id)
        now = utcnow()
        self._check_open(upload, now)
        if upload.status != "pending":
            raise UploadUsed("This upload already has its file.", field="upload_id")
        left = (upload.expires_at.replace(tzinfo=now.tzinfo) - now).total_seconds()
        expires_in = max(1, int(min(ctx.settings.signed_url_seconds, left)))
        url = None
        storage = self._present(found)
        if signs_puts(storage.provider):
            url = ctx.storages.adapter_for(session, storage).sign_put(
                upload.storage_key, expires_in=expires_in
            )
        if url is None:
            until = int(time.time()) + expires_in
            token = self._signer(ctx).dumps(
                [str(upload.id), upload.team_id, upload.max_bytes, until]
            )
            url = f"{base_url}{PUT_PATH}/{token}"
        return {"upload_url": url}

    def target(self, ctx: AppContext, token: str) -> PutTarget:
        """The upload a capability URL names; no database: checked before a byte is read."""
        try:
            upload_id, team_id, max_bytes, until = self._signer(ctx).loads(token)
            target = PutTarget(uuid.UUID(upload_id), int(team_id), int(max_bytes))
        except (BadSignature, ValueError, TypeError):
            raise UploadUrlRefused("This upload URL is not valid.", field="token") from None
        if int(until) < time.time():
            raise UploadUrlRefused(
                "This upload URL expired; ask for a new one (GET .../uploads/{id}/sign).",
                field="token",
            )
        return target

    def receive(
        self,
        ctx: AppContext,
        *,
        target: PutTarget,
        body: BinaryIO,
        size: int,
        content_type: str | None,
    ) -> None:
        """Write the bytes of a PUT to the upload's key, which must be free.

        Owns its two short units of work (the PUT carries no API key, so no request session):
        no transaction is open while the bytes are written, which may take minutes (SQLite
        would hold its write lock, PostgreSQL a transaction, all along). The first only reads
        (``Database.reading``: on SQLite it waits for no writer)."""
        with ctx.db.reading() as session:
            found = upload_repository.get_with_storage(session, target.team_id, target.upload_id)
            if found is None:
                raise NotFound("This upload does not exist (any more).", field="token")
            upload, storage = found
            self._check_open(upload, utcnow())
            if upload.status != "pending":
                raise UploadUsed("This upload already has its file.", field="token")
            adapter = ctx.storages.adapter_for(session, self._present(storage))
            key = upload.storage_key
        adapter.put_new(key, body, content_type=content_type)
        with ctx.db.session() as session:
            if upload_repository.mark_received(
                session, target.team_id, target.upload_id, size=size
            ):
                return
        adapter.delete(key)  # cleaned meanwhile: nothing may keep the bytes
        raise NotFound("This upload does not exist (any more).", field="token")

    def confirm(
        self, session: Session, team: Team, *, upload_id: uuid.UUID, ctx: AppContext
    ) -> dict[str, Any]:
        """The file is there: the last slot of an item to be confirmed starts its processing."""
        upload, storage = self._get(session, team, upload_id)
        if upload.status == "confirmed":
            return {}  # a client retrying its confirm
        now = utcnow()
        self._check_open(upload, now)
        size = upload.received_bytes
        if upload.status == "pending":  # bytes sent straight to the bucket: are they there?
            adapter = ctx.storages.adapter_for(session, self._present(storage))
            size = self._stored_size(adapter, upload)
        upload_repository.confirm(session, upload, size=size or 0)
        slots = upload_repository.slots_once_confirmed(session, upload.item_id)
        if slots:  # this was the item's last upload to be confirmed
            job_ids = upload_repository.start_processing(session, upload, slots=slots, now=now)
            send_after_commit(session, job_ids)
        session.flush()
        return {}

    def _stored_size(self, adapter: StorageAdapter, upload: Upload) -> int:
        try:
            info = adapter.head(upload.storage_key)
        except ObjectNotFound:
            raise UploadNotReceived(
                "No file was sent for this upload: PUT it to the signed URL, then confirm.",
                field="upload_id",
            ) from None
        if info.size > upload.max_bytes:
            adapter.delete(upload.storage_key)
            raise UploadTooLarge(
                f"The file sent has {info.size} bytes, more than the {upload.max_bytes} "
                "announced or allowed; it was deleted.",
                field="upload_id",
            )
        return info.size

    # -- expiry -----------------------------------------------------------------------------

    def clean_expired(self, session: Session, ctx: AppContext, *, limit: int = 500) -> int:
        """Delete the items of uploads not confirmed in time, and their bytes; forget the rows of
        confirmed uploads past their expiry. Returns how many items were deleted."""
        now = utcnow()
        item_ids = upload_repository.expired_items(session, now=now, limit=limit)
        if item_ids:
            for upload in upload_repository.uploads_of(session, item_ids):
                self._delete_bytes(session, ctx, upload)
            upload_repository.delete_items(session, item_ids)
            log.info("uploads.expired", items=len(item_ids))
        upload_repository.forget_confirmed(session, now=now)
        session.flush()
        return len(item_ids)

    def _delete_bytes(self, session: Session, ctx: AppContext, upload: Upload) -> None:
        try:
            self._adapter(session, ctx, upload).delete(upload.storage_key)
        except (StorageError, NotFound) as exc:
            log.warning("uploads.delete_failed", upload=str(upload.id), error=str(exc))


upload_service = UploadService()
