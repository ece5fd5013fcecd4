"""The storages page: the team's storages, their connection check, and syncs started from it.

A sync's own page shows its progress; the page's script polls ``?fragment=1`` (the progress
alone) until the sync has finished. Every form carries the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from moorage.deps import CtxDep, SessionDep
from moorage.errors import ValidationFailed
from moorage.kit.routing import api_router
from moorage.web import guard, storage_views
from moorage.web.rendering import render
from moorage.websessions.service import SignedIn

router = api_router(include_in_schema=False)
Text = Annotated[str, Form(max_length=1024)]


@router.get("/storages")
def storages_page(request: Request, session: SessionDep, ctx: CtxDep) -> Response:
    return guard.as_signed_in(
        request,
        session,
        ctx,
        lambda me: render(
            request, "storages.html", me=me, **storage_views.storages_page(session, me.team)
        ),
    )


@router.post("/storages/{slug}/check")
def check_storage(
    request: Request, session: SessionDep, ctx: CtxDep, slug: str, csrf_token: Text = ""
) -> Response:
    def checked(me: SignedIn) -> Response:
        result = storage_views.check(session, me.team, slug, ctx)
        found = storage_views.storages_page(session, me.team)
        return render(request, "storages.html", me=me, checked=result, **found)

    return guard.as_signed_in(request, session, ctx, checked, csrf_token=csrf_token)


@router.post("/storages/sync")
def start_sync(
    request: Request,
    session: SessionDep,
    ctx: CtxDep,
    csrf_token: Text = "",
    storage_slug: Text = "",
    dataset: Text = "",
    prefix: Text = "",
    include: Text = "",
) -> Response:
    form: dict[str, Any] = {"storage_slug": storage_slug, "prefix": prefix.strip()}
    if include.strip():
        form["include"] = [include.strip()]

    def started(me: SignedIn) -> Response:
        try:
            sync_id = storage_views.start_sync(session, me.team, ctx, dataset=dataset, form=form)
        except ValidationFailed as exc:
            found = storage_views.storages_page(session, me.team)
            return render(
                request,
                "storages.html",
                me=me,
                status_code=422,
                sync_error=exc.message,
                form=form | {"dataset": dataset, "include": include},
                **found,
            )
        return RedirectResponse(f"/syncs/{sync_id}", status_code=303)

    return guard.as_signed_in(request, session, ctx, started, csrf_token=csrf_token)


@router.get("/syncs/{sync_id}")
def sync_page(request: Request, session: SessionDep, ctx: CtxDep, sync_id: str) -> Response:
    def page(me: SignedIn) -> Response:
        found = storage_views.sync_page(session, me.team, sync_id)
        fragment = request.query_params.get("fragment") == "1"
        return render(request, "sync_progress.html" if fragment else "sync.html", me=me, **found)

    return guard.as_signed_in(request, session, ctx, page)
