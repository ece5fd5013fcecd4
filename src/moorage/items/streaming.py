"""HLS endpoints: a rendition's playlist, signed per request, and its segments (local storage)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from fastapi.responses import Response

from moorage.deps import BaseUrlDep, CtxDep, PathMediaTeamDep, SessionDep
from moorage.items.endpoints import render_delivery
from moorage.items.files import deliver
from moorage.items.playlists import MEDIA_TYPE, load_playlist, playlist_text
from moorage.kit.routing import api_router

router = api_router(tags=["items"])
SLOT = "/v2/teams/{team}/items/{item_id}/slots/{slot_name:path}/hls/{quality}"
Quality = Literal["high", "low"]


@router.get(
    SLOT + "/index.m3u8",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "The playlist"}},
)
def get_playlist(
    session: SessionDep,
    team: PathMediaTeamDep,
    ctx: CtxDep,
    url: BaseUrlDep,
    item_id: str,
    slot_name: str,
    quality: Quality,
) -> Response:
    playlist = load_playlist(
        session, team, ctx, item_id=item_id, slot_name=slot_name, quality=quality, base_url=url
    )
    text = playlist_text(playlist, quality=quality, expires_in=ctx.settings.signed_url_seconds)
    return Response(text, media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store"})


@router.get(
    SLOT + "/segments/{segment}",
    response_class=Response,
    responses={
        200: {"content": {"video/mp2t": {}}, "description": "The segment (local storage)"},
        307: {"description": "To the segment's signed URL"},
    },
)
def get_segment(
    session: SessionDep,
    team: PathMediaTeamDep,
    ctx: CtxDep,
    url: BaseUrlDep,
    item_id: str,
    slot_name: str,
    quality: Quality,
    segment: Annotated[int, Path(ge=0, le=2**31 - 1)],
) -> Response:
    playlist = load_playlist(
        session, team, ctx, item_id=item_id, slot_name=slot_name, quality=quality, base_url=url
    )
    target = playlist.segment(segment)
    return render_delivery(deliver(target, expires_in=ctx.settings.signed_url_seconds))
