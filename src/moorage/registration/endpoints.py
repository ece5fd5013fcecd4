from __future__ import annotations

from typing import Any

from moorage.deps import BaseUrlDep, CtxDep, PathTeamDep, SessionDep
from moorage.kit.responses import FastJSONResponse
from moorage.kit.routing import api_router
from moorage.registration.render import response_json
from moorage.registration.schemas import RegisterRequest
from moorage.registration.service import registration_service

router = api_router(tags=["registration"])


@router.post("/v2/teams/{team}/items/register_existing", response_class=FastJSONResponse)
def register_existing(
    session: SessionDep, team: PathTeamDep, ctx: CtxDep, url: BaseUrlDep, body: RegisterRequest
) -> Any:
    result = registration_service.register(session, team, payload=body, ctx=ctx, base_url=url)
    return FastJSONResponse(response_json(result))


@router.post("/v2/teams/{team}/items/register_existing_readonly", response_class=FastJSONResponse)
def register_existing_readonly(
    session: SessionDep, team: PathTeamDep, ctx: CtxDep, url: BaseUrlDep, body: RegisterRequest
) -> Any:
    result = registration_service.register(
        session, team, payload=body, ctx=ctx, base_url=url, force_readonly=True
    )
    return FastJSONResponse(response_json(result))
