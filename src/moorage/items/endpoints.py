from __future__ import annotations

import mimetypes
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from moorage.deps import BaseUrlDep, CtxDep, PathTeamDep, SessionDep
from moorage.items.files import FileTarget, resolve_file
from moorage.items.filters import (
    ItemQuery,
    filters_from_body,
    filters_from_query,
    refuse_repeated,
)
from moorage.items.service import item_service
from moorage.kit.responses import FastJSONResponse
from moorage.kit.routing import api_router
from moorage.ops import metrics
from moorage.storage.base import StorageError
from moorage.storage.local import LocalStorage

router = api_router(tags=["items"])
PREFIX = "/v2/teams/{team}/items"


def _item_query(request: Request, query: Annotated[ItemQuery, Query()]) -> ItemQuery:
    refuse_repeated(request.query_params.multi_items())
    return query


ItemQueryDep = Annotated[ItemQuery, Depends(_item_query)]


@router.get(PREFIX, response_class=FastJSONResponse)
def list_items(session: SessionDep, team: PathTeamDep, url: BaseUrlDep, query: ItemQueryDep) -> Any:
    filters, page = filters_from_query(query)
    return FastJSONResponse(
        item_service.list(session, team, filters=filters, page=page, base_url=url)
    )


@router.get(PREFIX + "/folders")
def list_folders(session: SessionDep, team: PathTeamDep, query: ItemQueryDep) -> dict[str, Any]:
    filters, _ = filters_from_query(query)
    return item_service.folders(session, team, filters=filters)


@router.post(PREFIX + "/archive")
def archive_items(session: SessionDep, team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    return item_service.set_archived(session, team, filters=filters_from_body(body), archived=True)


@router.post(PREFIX + "/restore")
def restore_items(session: SessionDep, team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    return item_service.set_archived(session, team, filters=filters_from_body(body), archived=False)


@router.delete(PREFIX)
def delete_items(session: SessionDep, team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    return item_service.delete(session, team, filters=filters_from_body(body))


@router.get(PREFIX + "/{item_id}", response_class=FastJSONResponse)
def get_item(session: SessionDep, team: PathTeamDep, url: BaseUrlDep, item_id: str) -> Any:
    return FastJSONResponse(item_service.get(session, team, item_id, base_url=url))


# slot names may hold "/" (sent as %2F), hence the ``path`` converter on slot_name
def _serve(target: FileTarget, ctx_seconds: int) -> Response:
    """307 to a freshly signed URL; local files are streamed with Range support."""
    try:
        return _deliver(target, ctx_seconds)
    except StorageError as exc:
        metrics.storage_error(target.adapter.provider, exc.reason)
        raise


def _deliver(target: FileTarget, ctx_seconds: int) -> Response:
    if isinstance(target.adapter, LocalStorage):
        path = target.adapter.path_for(target.key)
        target.adapter.head(target.key)
        return FileResponse(path, filename=target.file_name, content_disposition_type="inline")
    signed = target.adapter.sign_url(target.key, expires_in=ctx_seconds)
    if signed is not None:
        return RedirectResponse(signed, status_code=307, headers={"Cache-Control": "no-store"})
    stream = target.adapter.open_read(target.key)
    ctype = mimetypes.guess_type(target.file_name)[0] or "application/octet-stream"
    return StreamingResponse(stream, media_type=ctype)


@router.get(PREFIX + "/{item_id}/slots/{slot_name:path}/sections/{section}/{quality}")
def get_section_file(
    session: SessionDep,
    team: PathTeamDep,
    ctx: CtxDep,
    item_id: str,
    slot_name: str,
    section: Annotated[int, Path(ge=1, le=2**31 - 1)],
    quality: Literal["hq", "lq"],
) -> Response:
    target = resolve_file(
        session, team, ctx, item_id=item_id, slot_name=slot_name, what=quality, section=section
    )
    return _serve(target, ctx.settings.signed_url_seconds)


@router.get(PREFIX + "/{item_id}/slots/{slot_name:path}/{what}")
def get_slot_file(
    session: SessionDep,
    team: PathTeamDep,
    ctx: CtxDep,
    item_id: str,
    slot_name: str,
    what: Literal["file", "thumbnail"],
) -> Response:
    target = resolve_file(session, team, ctx, item_id=item_id, slot_name=slot_name, what=what)
    return _serve(target, ctx.settings.signed_url_seconds)
