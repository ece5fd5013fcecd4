"""What the storages page shows and does: the team's storages, their connection check, syncs."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.datasets.repository import dataset_repository
from moorage.datasets.service import dataset_service
from moorage.errors import NotFound, ValidationFailed
from moorage.models import Team
from moorage.storages.service import storage_service
from moorage.syncs.schemas import SyncCreate
from moorage.syncs.service import sync_service

#: a sync in one of these states has stopped; the page stops polling it
FINISHED = ("complete", "failed", "cancelled")
RECENT_SYNCS = 10


def storages_page(session: Session, team: Team) -> dict[str, Any]:
    return {
        "storages": storage_service.list_all(session, team),
        "datasets": dataset_repository.list_all(session, team, include_archived=False),
        "syncs": sync_service.page(session, team, size=RECENT_SYNCS, cursor=None)["syncs"],
    }


def check(session: Session, team: Team, slug: str, ctx: AppContext) -> dict[str, Any]:
    """The connection check (list, read, and for read-write write and delete)."""
    return storage_service.check(session, team, slug, registry=ctx.storages)


def start_sync(
    session: Session, team: Team, ctx: AppContext, *, dataset: str, form: dict[str, Any]
) -> str:
    """Queue a sync of the form's storage and prefix into ``dataset``; its id."""
    dataset_service.get_by_slug(session, team, dataset)  # 404 unless the team's
    try:
        body = SyncCreate.model_validate(form)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "form"
        raise ValidationFailed(f"{field}: {first['msg']}", field=field) from None
    sync = sync_service.create(session, team, dataset_slug=dataset, body=body, ctx=ctx)
    return str(sync.id)


def sync_page(session: Session, team: Team, sync_id: str) -> dict[str, Any]:
    try:
        uid = uuid.UUID(sync_id)
    except ValueError:
        raise NotFound(f"Sync {sync_id!r} does not exist.", field="sync_id") from None
    sync = sync_service.render(session, sync_service.get(session, team, uid))
    counts = sync["counts"]
    done = sum(counts.get(k, 0) for k in ("registered", "unchanged", "changed", "blocked"))
    listed = counts.get("listed", 0)
    return {
        "sync": sync,
        "finished": sync["state"] in FINISHED,
        "percent": 100 if sync["state"] in FINISHED or not listed else round(100 * done / listed),
    }
