from __future__ import annotations

from typing import Any

from moorage.deps import BaseUrlDep, CtxDep, PathTeamDep, SessionDep
from moorage.kit.gcpause import gc_paused
from moorage.kit.responses import FastJSONResponse
from moorage.kit.routing import api_router
from moorage.registration.model import RegistrationResult
from moorage.registration.render import response_json
from moorage.registration.schemas import RegisterRequest
from moorage.registration.service import registration_service

router = api_router(tags=["registration"])


def _respond(result: RegistrationResult) -> FastJSONResponse:
    # one object per item and slot, all alive until dumped: no collection midway
    with gc_paused():
        return FastJSONResponse(response_json(result))


@router.post("/v2/teams/{team}/items/register_existing", response_class=FastJSONResponse)
def register_existing(
    session: SessionDep, team: PathTeamDep, ctx: CtxDep, url: BaseUrlDep, body: RegisterRequest
) -> Any:
    result = registration_service.register(session, team, payload=body, ctx=ctx, base_url=url)
    return _respond(result)


@router.post("/v2/teams/{team}/items/register_existing_readonly", response_class=FastJSONResponse)
def register_existing_readonly(
    session: SessionDep, team: PathTeamDep, ctx: CtxDep, url: BaseUrlDep, body: RegisterRequest
) -> Any:
    result = registration_service.register(
        session, team, payload=body, ctx=ctx, base_url=url, force_readonly=True
    )
    return _respond(result)
