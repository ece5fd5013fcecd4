"""Releases as the API sees them: make one, list them, delete one; and what a release's token
(or the team's API key) may download."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.datasets.service import dataset_service
from moorage.errors import NotFound, ValidationFailed
from moorage.items.files import FileTarget
from moorage.kit.timestamps import rfc3339
from moorage.models import Dataset, Release, StorageConfig, Team
from moorage.models.base import utcnow
from moorage.ops import metrics
from moorage.releases.build import zip_path
from moorage.releases.repository import release_repository
from moorage.releases.schemas import ExportCreate
from moorage.releases.tokens import new_salt, release_token, token_matches
from moorage.storage.base import StorageAdapter, StorageError
from moorage.storages.repository import storage_repository
from moorage.worker.dispatch import send_release_after_commit

__all__ = ["ReleaseNotFound", "release_service"]

log = structlog.get_logger(__name__)


class ReleaseNotFound(NotFound):
    pass


@dataclass(frozen=True)
class ZipFile:
    path: Path
    file_name: str


def _inserted_at(release: Release) -> str:
    # darwin-py parses ``%Y-%m-%dT%H:%M:%S%z``: whole seconds
    text = rfc3339(release.created_at) or ""
    return text[:19] + "Z"


class ReleaseService:
    def create(
        self,
        session: Session,
        team: Team,
        *,
        dataset_slug: str,
        body: ExportCreate,
        base_url: str,
    ) -> tuple[Release, Dataset]:
        dataset = dataset_service.get_by_slug(session, team, dataset_slug)
        if release_repository.name_taken(session, dataset.id, body.name):
            raise ValidationFailed("has already been taken", field="name")
        release = Release(
            id=uuid.uuid4(),
            team_id=team.id,
            dataset_id=dataset.id,
            name=body.name,
            version=release_repository.next_version(session, dataset.id),
            format=body.format,
            status="pending",
            include_authorship=body.include_authorship,
            include_export_token=body.include_export_token,
            token_salt=new_salt(),
            base_url=base_url,
            max_seq=release_repository.max_seq(session, dataset.id),
            item_count=0,
            image_count=0,
            attempts=0,
            held=False,
            heartbeat_at=utcnow(),
            created_at=utcnow(),
        )
        session.add(release)
        session.flush()
        send_release_after_commit(session, release.id)
        log.info("release.created", team=team.slug, dataset=dataset.slug, release=release.name)
        return release, dataset

    def list(
        self, session: Session, team: Team, *, dataset_slug: str, ctx: AppContext
    ) -> list[dict[str, Any]]:
        dataset = dataset_service.get_by_slug(session, team, dataset_slug)
        releases = release_repository.of_dataset(session, team, dataset.id)
        latest = next((r.id for r in releases if r.status == "complete"), None)
        return [self.render(r, dataset, team, ctx, latest=r.id == latest) for r in releases]

    def render(
        self, release: Release, dataset: Dataset, team: Team, ctx: AppContext, *, latest: bool
    ) -> dict[str, Any]:
        download_url = None
        if release.status == "complete":
            token = release_token(ctx.secrets, release.id, release.token_salt)
            download_url = (
                f"{release.base_url}/api/v2/teams/{team.slug}/exports/{release.id}/download"
                f"?token={token}"
            )
        return {
            "id": str(release.id),
            "name": release.name,
            "version": release.version,
            "status": release.status,
            "format": release.format,
            "dataset_id": dataset.id,
            "dataset_slug": dataset.slug,
            "team_slug": team.slug,
            "download_url": download_url,
            "latest": latest,
            "inserted_at": _inserted_at(release),
            "export_date": _inserted_at(release),
            "finished_at": rfc3339(release.finished_at),
            "include_authorship": release.include_authorship,
            "include_export_token": release.include_export_token,
            "item_count": release.item_count,
            "image_count": release.image_count,
            "size_bytes": release.zip_bytes,
            "metadata": {
                "num_images": release.image_count,
                "num_items": release.item_count,
                "annotation_classes": [],
                "annotation_types": [],
            },
            **({"error": release.error} if release.error else {}),
        }

    def delete(
        self, session: Session, team: Team, *, dataset_slug: str, name: str, ctx: AppContext
    ) -> None:
        """Deleting a release revokes its token: every URL of it is 404 from then on."""
        dataset = dataset_service.get_by_slug(session, team, dataset_slug)
        release = next(
            (r for r in release_repository.of_dataset(session, team, dataset.id) if r.name == name),
            None,
        )
        if release is None:
            raise ReleaseNotFound(f"Release {name!r} does not exist.", field="name")
        path = zip_path(ctx, release)
        session.delete(release)
        session.flush()
        path.unlink(missing_ok=True)
        log.info("release.deleted", team=team.slug, dataset=dataset.slug, release=name)

    # serving -----------------------------------------------------------------------------

    def authorised(
        self,
        session: Session,
        ctx: AppContext,
        *,
        team_slug: str,
        release_id: str,
        token: str | None,
        team: Team | None,
    ) -> Release:
        """The release a URL names, if ``token`` is its token or ``team`` (the caller's, from an
        API key) owns it. Anything else is 404: a wrong token says nothing of the release."""
        uid = _uuid(release_id, "release_id")
        found = release_repository.get_for_team_slug(session, team_slug, uid)
        if found is None:
            raise _release_gone(release_id)
        release, _owner = found
        _check(ctx, release.id, release.team_id, release.token_salt, token, team, release_id)
        if release.status != "complete":
            raise ReleaseNotFound(f"Release {release.name!r} is still {release.status}.")
        return release

    def zip_file(self, ctx: AppContext, release: Release) -> ZipFile:
        path = zip_path(ctx, release)
        if not path.is_file():
            raise ReleaseNotFound(f"The zip of release {release.name!r} is gone.")
        return ZipFile(path, f"{release.name}.zip")

    def file_target(
        self,
        session: Session,
        ctx: AppContext,
        *,
        team_slug: str,
        release_id: str,
        token: str | None,
        team: Team | None,
        item_id: str,
        slot_name: str,
        what: str,
        index: int,
    ) -> FileTarget:
        """A file of an item of the release, for its token or its team's API key. ``what``:
        ``files`` (source file ``index``, from 0), ``frames`` (the hq of visible frame
        ``index``, from 1) or ``thumbnail``. One query finds the release and the slot."""
        rid = _uuid(release_id, "release_id")
        iid = _uuid(item_id, "item_id")
        found = release_repository.serving(
            session, team_slug=team_slug, release_id=rid, item_id=iid, slot_name=slot_name
        )
        if found is None:
            raise _release_gone(release_id)
        storage, row = found
        _check(ctx, rid, row["team_id"], row["token_salt"], token, team, release_id)
        if row["status"] != "complete":
            raise ReleaseNotFound(f"Release {row['release_name']!r} is still {row['status']}.")
        if row["slot_id"] is None:
            raise NotFound(f"Item {item_id!r} has no slot {slot_name!r} in this release.")
        return self._target(session, ctx, storage, row, what=what, index=index)

    def _target(
        self,
        session: Session,
        ctx: AppContext,
        storage: StorageConfig | None,
        row: Any,
        *,
        what: str,
        index: int,
    ) -> FileTarget:
        team_id, slot_name = row["team_id"], "this slot"
        if what == "files":
            files = row["source_files"] or [
                {"storage_key": row["storage_key"], "file_name": row["file_name"]}
            ]
            if index >= len(files):
                raise NotFound(f"The slot has no file {index}.", field="index")
            adapter = self._adapter_of(session, ctx, storage)
            return FileTarget(adapter, files[index]["storage_key"], files[index]["file_name"])
        if row["derivatives_storage_id"]:
            derived = storage_repository.get_by_id(session, team_id, row["derivatives_storage_id"])
            adapter = self._adapter_of(session, ctx, derived)
        else:
            adapter = self._adapter_of(session, ctx, storage)
        if what == "thumbnail":
            if not row["storage_thumbnail_key"]:
                raise NotFound(f"{slot_name} has no thumbnail yet.", field="slot")
            return FileTarget(adapter, row["storage_thumbnail_key"], "thumbnail.jpg")
        key = release_repository.section_hq_key(session, row["slot_id"], index)
        if not key:
            raise NotFound(f"The slot has no frame {index}.", field="index")
        return FileTarget(adapter, key, key.rsplit("/", 1)[-1])

    def _adapter_of(
        self, session: Session, ctx: AppContext, storage: StorageConfig | None
    ) -> StorageAdapter:
        if storage is None:
            raise NotFound("The storage holding this file was removed.", field="storage")
        try:
            return ctx.storages.adapter_for(session, storage)
        except StorageError as exc:
            metrics.storage_error(storage.provider, exc.reason)
            raise


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{value[:60]!r} does not exist.", field=field) from None


def _release_gone(release_id: str) -> ReleaseNotFound:
    return ReleaseNotFound(f"Release {release_id[:60]!r} does not exist.", field="release_id")


def _check(
    ctx: AppContext,
    release_id: uuid.UUID,
    owner_id: int,
    salt: str,
    token: str | None,
    team: Team | None,
    shown_id: str,
) -> None:
    """The token is the release's, or (no token) the caller's team owns it; else 404."""
    if token is not None:
        if not token_matches(ctx.secrets, release_id, salt, token):
            raise _release_gone(shown_id)
    elif team is None or team.id != owner_id:
        raise _release_gone(shown_id)


release_service = ReleaseService()
