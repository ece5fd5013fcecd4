"""The ASGI application."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from moorage import __version__
from moorage.config import Settings, get_settings
from moorage.context import AppContext
from moorage.datasets.endpoints import router as datasets_router
from moorage.errors import MoorageError
from moorage.items.endpoints import router as items_router
from moorage.items.streaming import router as streaming_router
from moorage.items.windowing import router as windowing_router
from moorage.kit.body_limit import BodyLimit, BodyTooLarge, too_large
from moorage.kit.error_render import render_error
from moorage.kit.routing import MoorageRoute
from moorage.media.base import MediaError
from moorage.ops.endpoints import router as ops_router
from moorage.ops.middleware import RequestContext
from moorage.registration.endpoints import router as registration_router
from moorage.releases.endpoints import router as releases_router
from moorage.storage.errors import StorageError
from moorage.storages.endpoints import router as storages_router
from moorage.syncs.endpoints import router as syncs_router
from moorage.teams.endpoints import router as teams_router
from moorage.uploads.endpoints import router as uploads_router
from moorage.uploads.service import PUT_PATH
from moorage.web.docs import install_docs
from moorage.web.pages import router as pages_router

log = structlog.get_logger(__name__)
_SLASHES = re.compile(r"/{2,}")


class NormalizePath:
    """Collapse ``//`` and drop a trailing slash, as darwin-py's URLs need."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = _SLASHES.sub("/", scope["path"])
            if len(path) > 1:
                path = path.rstrip("/")
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def _respond(exc: BaseException, headers: dict[str, str] | None = None) -> JSONResponse:
    rendered = render_error(exc)
    return JSONResponse(
        rendered.body, status_code=rendered.status, headers={**rendered.headers, **(headers or {})}
    )


def install_handlers(app: FastAPI) -> None:
    """Every error goes through ``render_error``; these only pick what to render."""

    async def _render(_: Request, exc: Exception) -> JSONResponse:
        return _respond(exc)

    for kind in (MoorageError, RequestValidationError, StorageError, MediaError):
        app.add_exception_handler(kind, _render)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, BodyTooLarge):
            return _respond(too_large(exc.limit), headers={"connection": "close"})
        return _respond(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("request.unexpected_error", error_type=type(exc).__name__)
        return _respond(exc)


def create_app(
    settings: Settings | None = None,
    ctx: AppContext | None = None,
    *,
    start_runtime: bool | None = None,
) -> FastAPI:
    """The API. ``start_runtime`` (default: when it owns its context) sends jobs to the broker
    and, with no ``MOORAGE_BROKER_URL``, runs the workers in this process."""
    settings = settings or get_settings()
    owned = ctx is None
    context = ctx or AppContext.from_settings(settings)
    if start_runtime is None:
        start_runtime = owned

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = None
        if start_runtime:
            from moorage.worker.runtime import Runtime

            runtime = Runtime(context, broker_url=settings.broker_url, threads=settings.workers)
            runtime.install()
            if not settings.broker_url:
                runtime.start_workers()
        app.state.runtime = runtime
        yield
        if runtime is not None:
            runtime.stop()
        if owned:
            context.close()

    app = FastAPI(
        title="moorage",
        version=__version__,
        description="Register files that already live in your storage as dataset items. "
        "Speaks V7 Darwin's v2 HTTP contract.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.ctx = context
    app.router.route_class = MoorageRoute
    install_handlers(app)
    for router in (
        uploads_router,
        teams_router,
        datasets_router,
        storages_router,
        registration_router,
        streaming_router,  # before items_router: its slot paths would take .../hls/...
        windowing_router,  # likewise .../slices/...
        items_router,
        syncs_router,
        releases_router,
    ):
        app.include_router(router, prefix="/api")
    app.include_router(ops_router)
    app.include_router(pages_router)
    install_docs(app)

    app.add_middleware(RequestContext)
    app.add_middleware(NormalizePath)
    # outermost: nothing reads a byte of a body before its size is checked
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, exempt=("PUT", f"{PUT_PATH}/"))
    return app
