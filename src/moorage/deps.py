"""Request dependencies: the app context, the unit of work, the authenticated team.

Those that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency on the thread
pool, a hand-off to a thread and back (~0.1 ms of CPU, more when the GIL is contended) for a
function of a microsecond. What reads the database stays ``def``, off the event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from moorage.context import AppContext
from moorage.errors import NotFound, Unauthorized
from moorage.models import Team
from moorage.teams.service import team_service
from moorage.websessions.service import COOKIE, WebSessionService


async def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_session(ctx: Annotated[AppContext, Depends(get_ctx)]) -> AsyncIterator[Session]:
    """The request's unit of work: the only place a request commits (as ``Database.session``).

    Opening a session does no I/O (it takes a connection at its first query), so it opens on
    the event loop; its commit or rollback runs on the thread pool, shielded from the
    request's cancellation, and only when the request began a transaction."""
    session = ctx.db.sessionmaker()
    try:
        yield session
    except BaseException:
        await _finish(session, commit=False)
        raise
    await _finish(session, commit=True)


async def _finish(session: Session, *, commit: bool) -> None:
    if not session.in_transaction():
        session.close()  # nothing began: no connection to give back, no I/O
        return
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_end, session, commit)


def _end(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def base_url(request: Request) -> str:
    ctx: AppContext = request.app.state.ctx
    if ctx.settings.public_url:
        return ctx.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
CtxDep = Annotated[AppContext, Depends(get_ctx)]
BaseUrlDep = Annotated[str, Depends(base_url)]


#: a security scheme, not a header parameter, so the OpenAPI schema says how to authenticate
#: (and schemathesis neither negates the key nor skips its ignored-auth check)
_API_KEY = APIKeyHeader(
    name="Authorization", auto_error=False, description="`ApiKey <key>` (or `Bearer <key>`)"
)


def current_team(
    session: SessionDep,
    ctx: CtxDep,
    authorization: Annotated[str | None, Security(_API_KEY)] = None,
) -> Team:
    """The caller's team; each authenticated request counts against its key's rate limit."""
    team, key = team_service.authenticate_key(session, authorization)
    if ctx.limiter is not None:
        ctx.limiter.check(key.prefix)
    return team


TeamDep = Annotated[Team, Depends(current_team)]


def check_path_team(team: str, current: Team) -> Team:
    """The team named in the path must be the caller's; any other is 404, never 403."""
    if team != current.slug:
        raise NotFound(f"Team {team!r} does not exist.", field="team")
    return current


async def path_team(team: str, current: TeamDep) -> Team:
    return check_path_team(team, current)


PathTeamDep = Annotated[Team, Depends(path_team)]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls and the team the path names, not yet checked against the database: that
    happens in the request's one unit of work, :func:`in_unit`."""

    team: str
    authorization: str


async def path_caller(
    team: str, authorization: Annotated[str | None, Security(_API_KEY)] = None
) -> Caller:
    """A request without a key (or not ``ApiKey <key>``) is refused here, before its
    parameters are read, as ``current_team`` refuses it."""
    team_service.presented_key(authorization)
    return Caller(team, authorization or "")


CallerDep = Annotated[Caller, Depends(path_caller)]


async def in_unit(
    ctx: AppContext, caller: Caller, work: Callable[[Session, Team], T], *, reading: bool = False
) -> T:
    """Authenticate, run ``work`` with the caller's team and commit, in one unit of work and
    one trip to the thread pool, for the endpoints run once a file (sign, confirm).

    ``SessionDep`` + ``PathTeamDep`` + a ``def`` endpoint take three trips (the key's lookup,
    the endpoint, the commit), each a hand-off of the GIL to another thread and back: ~0.4 ms
    of CPU a trip in a busy server, more than the work. The same checks, in the same order:
    the key (401), then the path's team (404), then the endpoint's. ``reading``: ``work``
    only reads (``Database.reading``: on SQLite, no write lock taken, none waited for; the
    key's note of use is written after it, ``moorage.db.write``)."""
    return await run_in_threadpool(_in_unit, ctx, caller, work, reading)


def _in_unit(
    ctx: AppContext, caller: Caller, work: Callable[[Session, Team], T], reading: bool
) -> T:
    with ctx.db.reading() if reading else ctx.db.session() as session:
        team = check_path_team(caller.team, current_team(session, ctx, caller.authorization))
        return work(session, team)


def media_team(
    request: Request,
    session: SessionDep,
    ctx: CtxDep,
    authorization: Annotated[str | None, Security(_API_KEY)] = None,
) -> Team:
    """For the media endpoints (GET, no side effects): an API key, or else a signed-in
    browser's session cookie, so ``<img src>`` and ``<video>`` work in the gallery."""
    if authorization:
        return current_team(session, ctx, authorization)
    signed_in = WebSessionService(ctx.secrets).resolve(session, request.cookies.get(COOKIE))
    if signed_in is None:
        raise Unauthorized("Send 'Authorization: ApiKey <key>', or sign in at /sign-in.")
    if ctx.limiter is not None:
        ctx.limiter.check(signed_in.key.prefix)
    return signed_in.team


async def path_media_team(team: str, current: Annotated[Team, Depends(media_team)]) -> Team:
    return check_path_team(team, current)


PathMediaTeamDep = Annotated[Team, Depends(path_media_team)]
