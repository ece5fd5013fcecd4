from __future__ import annotations

from typing import Any

from moorage.deps import CtxDep, PathTeamDep, SessionDep
from moorage.kit.routing import api_router
from moorage.storages.schemas import StorageCreate, StorageUpdate
from moorage.storages.service import storage_json, storage_service

router = api_router(tags=["storage"])


@router.get("/teams/{team}/storage")
def list_storage(session: SessionDep, team: PathTeamDep) -> list[dict[str, Any]]:
    return storage_service.list_all(session, team)


@router.post("/teams/{team}/storage")
def create_storage(
    session: SessionDep, team: PathTeamDep, ctx: CtxDep, body: StorageCreate
) -> dict[str, Any]:
    storage = storage_service.create(
        session, team, payload=body, secrets=ctx.secrets, registry=ctx.storages
    )
    return storage_json(storage)


@router.get("/teams/{team}/storage/{slug}")
def get_storage(session: SessionDep, team: PathTeamDep, slug: str) -> dict[str, Any]:
    return storage_json(storage_service.get(session, team, slug))


@router.patch("/teams/{team}/storage/{slug}")
def update_storage(
    session: SessionDep, team: PathTeamDep, ctx: CtxDep, slug: str, body: StorageUpdate
) -> dict[str, Any]:
    storage = storage_service.update(
        session, team, slug, payload=body, secrets=ctx.secrets, registry=ctx.storages
    )
    return storage_json(storage)


@router.post("/teams/{team}/storage/{slug}/check")
def check_storage(session: SessionDep, team: PathTeamDep, ctx: CtxDep, slug: str) -> dict[str, Any]:
    return storage_service.check(session, team, slug, registry=ctx.storages)


@router.delete("/teams/{team}/storage/{slug}")
def delete_storage(session: SessionDep, team: PathTeamDep, slug: str) -> dict[str, Any]:
    storage_service.delete(session, team, slug)
    return {}
