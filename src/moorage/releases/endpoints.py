"""Releases over HTTP: darwin-py's ``export``/``get_releases`` and what its ``pull`` downloads.

The download and file URLs take either the release's ``token`` (darwin-py sends no API key for
the zip, nor for URLs carrying ``token``) or the team's API key."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path as FsPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Path, Query, Security
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader

from moorage.deps import BaseUrlDep, CtxDep, PathTeamDep, SessionDep, current_team
from moorage.items.files import LocalFile, Redirect, Stream, deliver
from moorage.kit.routing import api_router
from moorage.models import Release
from moorage.releases.schemas import ExportCreate
from moorage.releases.service import release_service

router = api_router(tags=["releases"])

#: optional on these URLs: the release token in the query serves instead
_API_KEY = APIKeyHeader(
    name="Authorization", auto_error=False, description="`ApiKey <key>` (or `Bearer <key>`)"
)

EXPORTS = "/v2/teams/{team}/datasets/{dataset_slug}/exports"
RELEASE = "/v2/teams/{team}/exports/{release_id}"
DatasetSlug = Annotated[str, Path(min_length=1, max_length=200)]
ReleaseId = Annotated[str, Path(min_length=1, max_length=100)]
Token = Annotated[str | None, Query(min_length=1, max_length=200)]
Index = Annotated[int, Path(ge=0, le=2**31 - 1)]


@router.post(EXPORTS)
def create_export(
    session: SessionDep,
    team: PathTeamDep,
    ctx: CtxDep,
    url: BaseUrlDep,
    dataset_slug: DatasetSlug,
    body: ExportCreate,
) -> dict[str, Any]:
    """Make a release: ``pending`` until its zip is built in the background, then ``complete``."""
    release, dataset = release_service.create(
        session, team, dataset_slug=dataset_slug, body=body, base_url=url
    )
    return release_service.render(release, dataset, team, ctx, latest=False)


@router.get(EXPORTS)
def list_exports(
    session: SessionDep, team: PathTeamDep, ctx: CtxDep, dataset_slug: DatasetSlug
) -> list[dict[str, Any]]:
    """The dataset's releases, newest first; ``download_url`` is null until one is complete."""
    return release_service.list(session, team, dataset_slug=dataset_slug, ctx=ctx)


@router.delete(EXPORTS + "/{name}")
def delete_export(
    session: SessionDep,
    team: PathTeamDep,
    ctx: CtxDep,
    dataset_slug: DatasetSlug,
    name: Annotated[str, Path(min_length=1, max_length=200)],
) -> dict[str, Any]:
    """Delete a release and its zip; its token and every URL of it stop working at once."""
    release_service.delete(session, team, dataset_slug=dataset_slug, name=name, ctx=ctx)
    return {}


def _release(
    session: SessionDep,
    ctx: CtxDep,
    team: str,
    release_id: ReleaseId,
    token: Token = None,
    authorization: Annotated[str | None, Security(_API_KEY)] = None,
) -> Release:
    caller = None if token is not None else current_team(session, ctx, authorization)
    return release_service.authorised(
        session, ctx, team_slug=team, release_id=release_id, token=token, team=caller
    )


@router.get(RELEASE + "/download", response_class=FileResponse)
def download_export(
    session: SessionDep,
    ctx: CtxDep,
    team: str,
    release_id: ReleaseId,
    token: Token = None,
    authorization: Annotated[str | None, Security(_API_KEY)] = None,
) -> Response:
    """The release's zip of Darwin JSON 2.0 files, streamed from disk."""
    release = _release(session, ctx, team, release_id, token, authorization)
    found = release_service.zip_file(ctx, release)
    return FileResponse(found.path, filename=found.file_name, media_type="application/zip")


def _serve(
    session: SessionDep,
    ctx: CtxDep,
    names: tuple[str, str, str, str],
    what: str,
    index: int,
    token: str | None,
    authorization: str | None,
) -> Response:
    team, release_id, item_id, slot_name = names
    caller = None if token is not None else current_team(session, ctx, authorization)
    target = release_service.file_target(
        session,
        ctx,
        team_slug=team,
        release_id=release_id,
        token=token,
        team=caller,
        item_id=item_id,
        slot_name=slot_name,
        what=what,
        index=index,
    )
    match deliver(target, expires_in=ctx.settings.signed_url_seconds):
        case LocalFile(path, file_name):
            return _local(path, file_name)
        case Redirect(signed):
            return RedirectResponse(signed, status_code=307, headers={"Cache-Control": "no-store"})
        case Stream(stream, media_type):
            return StreamingResponse(stream, media_type=media_type)


#: local files up to this size are read here, in the endpoint's worker thread, and sent in one
#: body: a pull is thousands of small files, and FileResponse's per-file thread hops (stat,
#: open, read, close) cost more than the read itself
_SMALL = 1 << 20


def _local(path: FsPath, file_name: str) -> Response:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > _SMALL:
            return FileResponse(path, filename=file_name, content_disposition_type="inline")
        data = f.read()
    media_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    quoted = quote(file_name)
    return Response(
        data,
        media_type=media_type,
        headers={"content-disposition": f"inline; filename*=utf-8''{quoted}"},
    )


# slot names may hold "/" (sent as %2F), hence the ``path`` converter on slot_name
@router.get(RELEASE + "/items/{item_id}/slots/{slot_name:path}/{what}/{index}")
def get_release_file(
    session: SessionDep,
    ctx: CtxDep,
    team: str,
    release_id: ReleaseId,
    item_id: Annotated[str, Path(max_length=100)],
    slot_name: str,
    what: Annotated[str, Path(pattern="^(files|frames)$")],
    index: Index,
    token: Token = None,
    authorization: Annotated[str | None, Security(_API_KEY)] = None,
) -> Response:
    """Source file ``index`` (from 0) of a slot, or the image of visible frame ``index`` (from
    1) of a video, for an item of the release."""
    names = (team, release_id, item_id, slot_name)
    return _serve(session, ctx, names, what, index, token, authorization)


@router.get(RELEASE + "/items/{item_id}/slots/{slot_name:path}/thumbnail")
def get_release_thumbnail(
    session: SessionDep,
    ctx: CtxDep,
    team: str,
    release_id: ReleaseId,
    item_id: Annotated[str, Path(max_length=100)],
    slot_name: str,
    token: Token = None,
    authorization: Annotated[str | None, Security(_API_KEY)] = None,
) -> Response:
    names = (team, release_id, item_id, slot_name)
    return _serve(session, ctx, names, "thumbnail", 0, token, authorization)
