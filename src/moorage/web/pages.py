"""The gallery: server-rendered pages over the same services as the API.

A page is for a signed-in browser (``sessions.py``); without a session it sends the browser to
``/sign-in``. Everything is scoped to the session's team: another team's dataset or item is the
same 404 page as one that does not exist. Every form carries the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from moorage.deps import BaseUrlDep, CtxDep, SessionDep
from moorage.errors import MoorageError
from moorage.kit.routing import api_router
from moorage.teams.service import team_service
from moorage.web import guard, views
from moorage.web.rendering import render
from moorage.web.storage_pages import router as storage_router
from moorage.websessions.service import COOKIE, LIFETIME, SignedIn

router = api_router(include_in_schema=False)
router.include_router(storage_router)
PRE_CSRF = "moorage_signin_csrf"


@router.get("/")
def home(request: Request, session: SessionDep, ctx: CtxDep) -> Response:
    me = guard.signed_in(request, session, ctx)
    return RedirectResponse("/datasets" if me else "/sign-in", status_code=303)


@router.get("/sign-in")
def sign_in_page(request: Request, session: SessionDep, ctx: CtxDep) -> Response:
    token = views.new_token()
    page = render(request, "sign_in.html", me=None, csrf=token, next=_safe_next(request))
    page.set_cookie(PRE_CSRF, token, httponly=True, samesite="strict", secure=_https(request))
    return page


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: SessionDep,
    ctx: CtxDep,
    api_key: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/datasets",
) -> Response:
    if not views.same_token(request.cookies.get(PRE_CSRF), csrf_token):
        return render(
            request,
            "sign_in.html",
            me=None,
            status_code=403,
            csrf=views.new_token(),
            error="The form expired; sign in again.",
            next="/datasets",
        )
    try:
        _, key = team_service.authenticate_key(session, f"ApiKey {api_key.strip()}")
        cookie = guard.sessions(ctx).sign_in(session, key)
    except MoorageError:
        token = views.new_token()
        page = render(
            request,
            "sign_in.html",
            me=None,
            status_code=401,
            csrf=token,
            error="That API key is not valid.",
            next=_safe_next_value(next),
        )
        page.set_cookie(PRE_CSRF, token, httponly=True, samesite="strict", secure=_https(request))
        return page
    response = RedirectResponse(_safe_next_value(next), status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_https(request),
        path="/",
    )
    response.delete_cookie(PRE_CSRF)
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    session: SessionDep,
    ctx: CtxDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def out(me: SignedIn) -> Response:
        guard.sessions(ctx).sign_out(session, me)
        response = RedirectResponse("/sign-in", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return guard.as_signed_in(request, session, ctx, out, csrf_token=csrf_token)


@router.get("/datasets")
def datasets_page(request: Request, session: SessionDep, ctx: CtxDep) -> Response:
    return guard.as_signed_in(
        request,
        session,
        ctx,
        lambda me: render(
            request, "datasets.html", me=me, datasets=views.datasets(session, me.team)
        ),
    )


@router.get("/datasets/{slug}")
def dataset_page(
    request: Request, session: SessionDep, ctx: CtxDep, url: BaseUrlDep, slug: str
) -> Response:
    """The page; ``fragment=1``: the grid's next page alone (the page appends it as the user
    scrolls); ``fragment=folders``: the folder tree with its counts (fetched after the page)."""

    def page(me: SignedIn) -> Response:
        query, fragment = request.query_params, request.query_params.get("fragment")
        if fragment == "folders":
            found = views.folder_counts(session, me.team, slug, query)
            return render(request, "folders.html", me=me, **found)
        if fragment == "1":
            found = views.grid_page(session, me.team, slug, query, base_url=url)
            return render(request, "grid.html", me=me, **found)
        found = views.dataset_page(session, me.team, slug, query, base_url=url)
        return render(request, "dataset.html", me=me, **found)

    return guard.as_signed_in(request, session, ctx, page)


@router.get("/datasets/{slug}/items/{item_id}")
def item_page(
    request: Request, session: SessionDep, ctx: CtxDep, url: BaseUrlDep, slug: str, item_id: str
) -> Response:
    def page(me: SignedIn) -> Response:
        found = views.item_page(session, me.team, slug, item_id, base_url=url)
        return render(request, "item.html", me=me, **found)

    return guard.as_signed_in(request, session, ctx, page)


@router.post("/datasets/{slug}/reprocess")
def reprocess(
    request: Request,
    session: SessionDep,
    ctx: CtxDep,
    slug: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    item_id: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    def queue(me: SignedIn) -> Response:
        back = views.reprocess(session, me.team, slug, item_id or None)
        return RedirectResponse(back, status_code=303)

    return guard.as_signed_in(request, session, ctx, queue, csrf_token=csrf_token)


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(request: Request) -> str:
    return _safe_next_value(request.query_params.get("next", "/datasets"))


def _safe_next_value(value: Any) -> str:
    """Only a path of this site: never ``//host`` or ``https://host`` (an open redirect)."""
    text = str(value or "")
    if not text.startswith("/") or text.startswith("//") or "\\" in text or "\n" in text:
        return "/datasets"
    return text
