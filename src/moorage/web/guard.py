"""What every gallery page does around its own work: the session, the CSRF check, the 404."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.errors import BadRequest, MoorageError, NotFound, ValidationFailed
from moorage.web.rendering import render
from moorage.websessions.service import COOKIE, SignedIn, WebSessionService


def sessions(ctx: AppContext) -> WebSessionService:
    return WebSessionService(ctx.secrets)


def signed_in(request: Request, session: Session, ctx: AppContext) -> SignedIn | None:
    return sessions(ctx).resolve(session, request.cookies.get(COOKIE))


def to_sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)


def not_found(request: Request, me: SignedIn, exc: MoorageError) -> HTMLResponse:
    return render(request, "not_found.html", me=me, status_code=404, message=exc.message)


def as_signed_in(
    request: Request,
    session: Session,
    ctx: AppContext,
    build: Callable[[SignedIn], Response],
    *,
    csrf_token: str | None = None,
) -> Response:
    """Around a page's own work: the sign-in redirect, the CSRF refusal of a form (when
    ``csrf_token`` is given) and the 404 page (another team's dataset or item included)."""
    me = signed_in(request, session, ctx)
    if me is None:
        return to_sign_in(request)
    if csrf_token is not None and not WebSessionService.csrf_ok(me, csrf_token):
        return render(request, "forbidden.html", me=me, status_code=403)
    try:
        return build(me)
    except NotFound as exc:
        return not_found(request, me, exc)
    except (BadRequest, ValidationFailed) as exc:  # a hand-edited URL or form: say what is wrong
        return render(
            request, "problem.html", me=me, status_code=exc.status_code, message=exc.message
        )
