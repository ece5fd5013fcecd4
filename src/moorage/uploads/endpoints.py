from __future__ import annotations

import tempfile
import uuid
from typing import IO, Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from moorage.deps import BaseUrlDep, CallerDep, CtxDep, PathTeamDep, SessionDep, in_unit
from moorage.kit.responses import FastJSONResponse
from moorage.kit.routing import api_router
from moorage.kit.schemas import ErrorBody
from moorage.models import Team
from moorage.uploads.errors import UploadTooLarge
from moorage.uploads.schemas import UploadRequest
from moorage.uploads.service import upload_service

router = api_router(tags=["uploads"])

_GONE: dict[int | str, dict[str, Any]] = {
    410: {"model": ErrorBody, "description": "The upload expired: register it again"}
}
_REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "The upload URL is forged or altered"}
}

#: a PUT body is held in memory up to this size, then on disk, until the storage takes it
_SPOOL_BYTES = 8 * 1024 * 1024


@router.post("/v2/teams/{team}/items/register_upload", response_class=FastJSONResponse)
def register_upload(
    session: SessionDep, team: PathTeamDep, ctx: CtxDep, url: BaseUrlDep, body: UploadRequest
) -> Any:
    return FastJSONResponse(
        upload_service.register(session, team, payload=body, ctx=ctx, base_url=url)
    )


# sign and confirm (run once a file) take one trip to the thread pool for the key's check, the
# work and the commit (``in_unit``), and answer a ready ``FastJSONResponse``: the response
# model is for the OpenAPI schema only, not validated and encoded again on the way out; sign
# only reads, in a unit that takes no write lock (``Database.reading``)


@router.get(
    "/v2/teams/{team}/items/uploads/{upload_id}/sign",
    responses=_GONE,
    response_model=dict[str, str],
    response_class=FastJSONResponse,
)
async def sign_upload(caller: CallerDep, ctx: CtxDep, url: BaseUrlDep, upload_id: uuid.UUID) -> Any:
    def work(session: Session, team: Team) -> dict[str, str]:
        return upload_service.sign(session, team, upload_id=upload_id, ctx=ctx, base_url=url)

    return FastJSONResponse(await in_unit(ctx, caller, work, reading=True))


@router.post(
    "/v2/teams/{team}/items/uploads/{upload_id}/confirm",
    responses=_GONE,
    response_model=dict[str, Any],
    response_class=FastJSONResponse,
)
async def confirm_upload(caller: CallerDep, ctx: CtxDep, upload_id: uuid.UUID) -> Any:
    def work(session: Session, team: Team) -> dict[str, Any]:
        return upload_service.confirm(session, team, upload_id=upload_id, ctx=ctx)

    return FastJSONResponse(await in_unit(ctx, caller, work))


def _too_large(limit: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"The file is larger than this upload takes ({limit} bytes: the size announced, or "
        "MOORAGE_MAX_UPLOAD_BYTES).",
        field="body",
    )


async def _spool(request: Request, limit: int) -> tuple[IO[bytes], int]:
    """The body, counted as it arrives and refused past ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - returned open
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, size


@router.put("/v2/uploads/{token}", openapi_extra={"security": []}, responses={**_GONE, **_REFUSED})
async def put_upload(token: str, request: Request, ctx: CtxDep) -> Any:
    """The capability URL ``sign`` hands out for storage moorage writes itself: no API key;
    the signed token names the upload, its team and its size limit."""
    target = upload_service.target(ctx, token)
    body, size = await _spool(request, target.max_bytes)
    with body:
        await run_in_threadpool(
            upload_service.receive,
            ctx,
            target=target,
            body=body,  # type: ignore[arg-type]
            size=size,
            content_type=request.headers.get("content-type"),
        )
    return FastJSONResponse({})
