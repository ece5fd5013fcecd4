"""The gallery: server-rendered pages over the same services as the API.

A page is for a signed-in browser (``sessions.py``); without a session it sends the browser to
``/sign-in``. Everything is scoped to the session's team: another team's dataset or item is the
same 404 page as one that does not exist. Every form carries the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from moorage.deps import BaseUrlDep, CtxDep, SessionDep
from moorage.errors import MoorageError, NotFound
from moorage.kit.routing import api_router
from moorage.teams.service import team_service
from moorage.web import views
from moorage.web.rendering import render
from moorage.websessions.service import COOKIE, LIFETIME, SignedIn, WebSessionService

router = api_router(include_in_schema=False)
PRE_CSRF = "moorage_signin_csrf"


def _service(ctx: CtxDep) -> WebSessionService:
    return WebSessionService(ctx.secrets)


def _signed_in(request: Request, session: SessionDep, ctx: CtxDep) -> SignedIn | None:
    return _service(ctx).resolve(session, request.cookies.get(COOKIE))


def _to_sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)


def _not_found(request: Request, me: SignedIn, exc: MoorageError) -> HTMLResponse:
    return render(request, "not_found.html", me=me, status_code=404, message=exc.message)


@router.get("/")
def home(request: Request, session: SessionDep, ctx: CtxDep) -> Response:
    me = _signed_in(request, session, ctx)
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
        cookie = _service(ctx).sign_in(session, key)
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


def _as_signed_in(
    request: Request,
    session: SessionDep,
    ctx: CtxDep,
    build: Callable[[SignedIn], Response],
    *,
    csrf_token: str | None = None,
) -> Response:
    """Around a page's own work: the sign-in redirect, the CSRF refusal of a form (when
    ``csrf_token`` is given) and the 404 page (another team's dataset or item included)."""
    me = _signed_in(request, session, ctx)
    if me is None:
        return _to_sign_in(request)
    if csrf_token is not None and not WebSessionService.csrf_ok(me, csrf_token):
        return render(request, "forbidden.html", me=me, status_code=403)
    try:
        return build(me)
    except NotFound as exc:
        return _not_found(request, me, exc)


@router.post("/sign-out")
def sign_out(
    request: Request,
    session: SessionDep,
    ctx: CtxDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def out(me: SignedIn) -> Response:
        _service(ctx).sign_out(session, me)
        response = RedirectResponse("/sign-in", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return _as_signed_in(request, session, ctx, out, csrf_token=csrf_token)


@router.get("/datasets")
def datasets_page(request: Request, session: SessionDep, ctx: CtxDep) -> Response:
    return _as_signed_in(
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
    def page(me: SignedIn) -> Response:
        found = views.dataset_page(session, me.team, slug, request.query_params, base_url=url)
        fragment = request.query_params.get("fragment") == "1"
        return render(request, "grid.html" if fragment else "dataset.html", me=me, **found)

    return _as_signed_in(request, session, ctx, page)


@router.get("/datasets/{slug}/items/{item_id}")
def item_page(
    request: Request, session: SessionDep, ctx: CtxDep, url: BaseUrlDep, slug: str, item_id: str
) -> Response:
    def page(me: SignedIn) -> Response:
        found = views.item_page(session, me.team, slug, item_id, base_url=url)
        return render(request, "item.html", me=me, **found)

    return _as_signed_in(request, session, ctx, page)


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

    return _as_signed_in(request, session, ctx, queue, csrf_token=csrf_token)


@router.get("/storages")
def storages_page(request: Request, session: SessionDep, ctx: CtxDep) -> Response:
    return _as_signed_in(
        request,
        session,
        ctx,
        lambda me: render(
            request, "storages.html", me=me, storages=views.storages(session, me.team)
        ),
    )


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
