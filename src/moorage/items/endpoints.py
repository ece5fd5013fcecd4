from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, Depends, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from moorage.deps import BaseUrlDep, CtxDep, PathMediaTeamDep, PathTeamDep, SessionDep
from moorage.items.bulk import (
    LayoutBody,
    PathBody,
    PriorityBody,
    TagBody,
    Unsupported,
    parse_body,
)
from moorage.items.files import Delivery, LocalFile, Redirect, Stream, deliver, resolve_file
from moorage.items.filters import (
    ItemQuery,
    filters_from_body,
    filters_from_query,
    refuse_repeated,
)
from moorage.items.service import bulk_service, item_service
from moorage.kit.responses import FastJSONResponse
from moorage.kit.routing import api_router

router = api_router(tags=["items"])
PREFIX = "/v2/teams/{team}/items"


async def _item_query(request: Request, query: Annotated[ItemQuery, Query()]) -> ItemQuery:
    """``async``: no I/O, so not worth a hand-off to the thread pool."""
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


@router.post(PREFIX + "/reprocess")
def reprocess_items(
    session: SessionDep, team: PathTeamDep, body: Any = Body(...)
) -> dict[str, int]:
    """Queue the matching items' processing again (same filters as archive; not empty)."""
    return item_service.reprocess(session, team, filters=filters_from_body(body))


@router.delete(PREFIX)
def delete_items(session: SessionDep, team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    return item_service.delete(session, team, filters=filters_from_body(body))


@router.get(PREFIX + "/list_ids")
def list_item_ids(session: SessionDep, team: PathTeamDep, query: ItemQueryDep) -> dict[str, Any]:
    """Every matching item's id, in registration order (``darwin.future`` ``get_item_ids``)."""
    filters, _ = filters_from_query(query)
    return bulk_service.ids(session, team, filters=filters)


@router.get(PREFIX + "/ids")
def list_stage_item_ids(team: PathTeamDep) -> dict[str, Any]:
    raise Unsupported("workflow_stage_ids")


@router.post(PREFIX + "/slots/tags")
def tag_items(session: SessionDep, team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    """Tag every matching item (``annotation_class_id``, or ``tag`` by name)."""
    parsed, filters = parse_body(TagBody, body), filters_from_body(body)
    bulk_service.tag(session, team, filters, parsed)
    return {}


@router.delete(PREFIX + "/slots/tags")
def untag_items(session: SessionDep, team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    parsed, filters = parse_body(TagBody, body), filters_from_body(body)
    bulk_service.untag(session, team, filters, parsed)
    return {}


@router.post(PREFIX + "/path")
def move_items(session: SessionDep, team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    """Move every matching item to the folder ``path`` (409 when a name would be twice)."""
    parsed, filters = parse_body(PathBody, body), filters_from_body(body)
    bulk_service.move(session, team, filters, parsed)
    return {}


@router.post(PREFIX + "/layout")
def set_layout(session: SessionDep, team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    parsed, filters = parse_body(LayoutBody, body), filters_from_body(body)
    bulk_service.layout(session, team, filters, parsed)
    return {}


@router.post(PREFIX + "/priority")
def set_priority(session: SessionDep, team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    parsed, filters = parse_body(PriorityBody, body), filters_from_body(body)
    bulk_service.priority(session, team, filters, parsed)
    return {}


@router.post(PREFIX + "/assign")
def assign_items(team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    """moorage has no users nor workflows: a 422 naming ``assignee_id``."""
    filters_from_body(body)
    raise Unsupported("assignee_id")


@router.post(PREFIX + "/stage")
def set_stage(team: PathTeamDep, body: Any = Body(...)) -> dict[str, Any]:
    filters_from_body(body)
    raise Unsupported("stage_id")


@router.get(PREFIX + "/{item_id}", response_class=FastJSONResponse)
def get_item(session: SessionDep, team: PathTeamDep, url: BaseUrlDep, item_id: str) -> Any:
    return FastJSONResponse(item_service.get(session, team, item_id, base_url=url))


def _render(delivery: Delivery) -> Response:
    match delivery:
        case LocalFile(path, file_name):
            # revalidated on every use (ETag, 304): a re-processed or re-synced file changes
            # in place
            return FileResponse(
                path,
                filename=file_name,
                content_disposition_type="inline",
                headers={"Cache-Control": "private, no-cache"},
            )
        case Redirect(url):
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
        case Stream(stream, media_type):
            return StreamingResponse(stream, media_type=media_type)


#: for the HLS endpoints (``streaming.py``)
render_delivery = _render


# slot names may hold "/" (sent as %2F), hence the ``path`` converter on slot_name
@router.get(PREFIX + "/{item_id}/slots/{slot_name:path}/sections/{section}/{quality}")
def get_section_file(
    session: SessionDep,
    team: PathMediaTeamDep,
    ctx: CtxDep,
    item_id: str,
    slot_name: str,
    section: Annotated[int, Path(ge=1, le=2**31 - 1)],
    quality: Literal["hq", "lq"],
) -> Response:
    target = resolve_file(
        session, team, ctx, item_id=item_id, slot_name=slot_name, what=quality, section=section
    )
    return _render(deliver(target, expires_in=ctx.settings.signed_url_seconds))


@router.get(PREFIX + "/{item_id}/slots/{slot_name:path}/{what}")
def get_slot_file(
    session: SessionDep,
    team: PathMediaTeamDep,
    ctx: CtxDep,
    item_id: str,
    slot_name: str,
    what: Literal["file", "thumbnail"],
) -> Response:
    target = resolve_file(session, team, ctx, item_id=item_id, slot_name=slot_name, what=what)
    return _render(deliver(target, expires_in=ctx.settings.signed_url_seconds))
