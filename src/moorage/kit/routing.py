"""The route class every router uses, so every endpoint reads input alike.

Before an endpoint runs: no path or query parameter may hold NUL (PostgreSQL cannot compare
with it, SQLite can: refusing keeps both engines alike), and a JSON body is parsed once, by
:func:`moorage.kit.jsonbody.parse_json`, instead of the standard library's ``json``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from moorage.errors import ValidationFailed
from moorage.kit.jsonbody import parse_json
from moorage.kit.schemas import ERROR_RESPONSES
from moorage.kit.text import unsafe_text

__all__ = ["JSONRequest", "MoorageRoute", "api_router"]


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class JSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


def check_url_params(request: Request) -> None:
    """A 422 naming the first path or query parameter that cannot be stored or compared (as
    for any other invalid parameter)."""
    params = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in params:
        for text in (name, value):
            reason = unsafe_text(str(text))
            if reason is not None:
                field = str(name).replace("\x00", "?")
                raise ValidationFailed(f"{field} {reason}.", field=field)


class MoorageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        parses_json = self.body_field is not None

        async def route(request: Request) -> Response:
            request = JSONRequest(request.scope, request.receive)
            check_url_params(request)
            if parses_json and _is_json(request.headers.get("content-type")):
                body = await request.body()
                if body:
                    await request.json()  # a ValidationFailed here names the field
            return await handler(request)

        return route


def api_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` whose routes are :class:`MoorageRoute` and document the error
    answers: use it for every router."""
    kwargs.setdefault("responses", ERROR_RESPONSES)
    return APIRouter(route_class=MoorageRoute, **kwargs)
