"""Per request: an id in every log line and in the response, a log line, request metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moorage.ops.metrics import REQUEST_SECONDS, REQUESTS

__all__ = ["RequestContext", "request_id_of"]

log = structlog.get_logger("moorage.request")
#: the same logger as the standard library sees it: its level decides before a line is built
#: (``structlog``'s lazy logger binds a new logger at each call, ~40 us, only for
#: ``filter_by_level`` to drop the line at the usual ``WARNING`` of a busy server)
_LEVELS = logging.getLogger("moorage.request")
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: probes and scrapes: logged at debug, not counted
_QUIET = frozenset({"/healthz", "/readyz", "/metrics"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id_of(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is short and plain, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _WELL_FORMED.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
#: id(route) -> (route, its full template): a route's router prefix never changes; holding the
#: route keeps its id from being reused
_TEMPLATES: dict[int, tuple[object, str]] = {}


def _route_of(scope: Scope) -> str:
    """The matched route's full template (never the path: paths carry names)."""
    route = scope.get("route")
    relative = getattr(route, "path", None)
    if not isinstance(relative, str):
        return "unmatched"
    known = _TEMPLATES.get(id(route))
    if known is not None and known[0] is route:
        return known[1]
    template = _PARAM.sub(lambda m: "{" + m.group(1) + "}", relative)
    # the route knows its path below the router's prefix ("/api"): the prefix is what the
    # request path has before the route's own part
    params = scope.get("path_params") or {}
    try:
        rendered = _PARAM.sub(lambda m: str(params[m.group(1)]), relative)
    except KeyError:
        return template
    path = str(scope.get("path", ""))
    if path.endswith(rendered):
        template = path[: len(path) - len(rendered)] + template
        _TEMPLATES[id(route)] = (route, template)
    return template


class RequestContext:
    """Must sit inside path normalisation, so the router's match is visible in ``scope``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        # not cleared afterwards: the server's last-resort error handler runs outside this
        # middleware and still logs with the id; the next request starts afresh
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._done(scope, status, time.perf_counter() - started)

    @staticmethod
    def _done(scope: Scope, status: int, seconds: float) -> None:
        route = _route_of(scope)
        method = str(scope.get("method", ""))
        method = method if method in _METHODS else "OTHER"
        if route in _QUIET:
            if _LEVELS.isEnabledFor(logging.DEBUG):
                log.debug("request.completed", method=method, route=route, status=status)
            return
        REQUESTS.labels(route, method, str(status)).inc()
        REQUEST_SECONDS.labels(route, method).observe(seconds)
        if _LEVELS.isEnabledFor(logging.INFO):
            log.info(
                "request.completed",
                method=method,
                route=route,
                status=status,
                seconds=round(seconds, 4),
            )
