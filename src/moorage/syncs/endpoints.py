from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse

from moorage.deps import CtxDep, PathTeamDep, SessionDep
from moorage.errors import ValidationFailed
from moorage.kit.routing import api_router
from moorage.syncs.schemas import SyncCreate
from moorage.syncs.service import MAX_PAGE_SIZE, sync_service

router = api_router(tags=["syncs"])

SyncId = Annotated[uuid.UUID, Path(description="the sync's id")]
DatasetSlug = Annotated[str, Path(min_length=1, max_length=200)]


@router.post(
    "/v2/teams/{team}/datasets/{dataset_slug}/syncs",
    status_code=202,
    responses={202: {"description": "The sync was queued; poll GET .../syncs/{id}"}},
)
def create_sync(
    session: SessionDep, team: PathTeamDep, ctx: CtxDep, dataset_slug: DatasetSlug, body: SyncCreate
) -> Any:
    sync = sync_service.create(session, team, dataset_slug=dataset_slug, body=body, ctx=ctx)
    return JSONResponse(sync_service.render(session, sync), status_code=202)


_LIST_PARAMS = ("page[size]", "page[from]")


@router.get("/v2/teams/{team}/syncs")
def list_syncs(
    request: Request,
    session: SessionDep,
    team: PathTeamDep,
    size: Annotated[int, Query(alias="page[size]", ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(alias="page[from]", max_length=500)] = None,
) -> dict[str, Any]:
    """The team's syncs, newest first."""
    for name in request.query_params:
        if name not in _LIST_PARAMS:  # a filter this listing does not know would list all
            raise ValidationFailed(
                f"Unknown query parameter {name[:60]!r}; the listing takes "
                f"{', '.join(_LIST_PARAMS)}.",
                field=name[:60],
            )
    return sync_service.page(session, team, size=size, cursor=cursor)


@router.get("/v2/teams/{team}/syncs/{sync_id}")
def get_sync(session: SessionDep, team: PathTeamDep, sync_id: SyncId) -> dict[str, Any]:
    return sync_service.render(session, sync_service.get(session, team, sync_id))


@router.post("/v2/teams/{team}/syncs/{sync_id}/cancel")
def cancel_sync(session: SessionDep, team: PathTeamDep, sync_id: SyncId) -> dict[str, Any]:
    return sync_service.render(session, sync_service.cancel(session, team, sync_id))
