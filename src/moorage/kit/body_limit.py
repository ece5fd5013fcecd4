"""Cap request bodies (``MOORAGE_MAX_BODY_BYTES``) before they are read.

A declared ``Content-Length`` over the cap is answered 413 at once, without reading a byte; a
streamed (chunked) body is counted as it arrives and refused at the cap, so the server holds at
most the cap in memory whatever the client sends.
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moorage.errors import PayloadTooLarge
from moorage.kit.error_render import render_error

__all__ = ["BodyLimit", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` at the cap. An ``HTTPException``, so FastAPI's body reader lets
    it through to the exception handler (it turns other errors into a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large(limit).message)
        self.limit = limit


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than this server accepts ({limit} bytes, "
        "MOORAGE_MAX_BODY_BYTES). Send fewer items per request.",
        field="body",
    )


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, exempt: tuple[str, str] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: (method, path prefix) whose endpoint caps its own body (an upload's file)
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope):
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    def _exempt(self, scope: Scope) -> bool:
        if self.exempt is None:
            return False
        method, prefix = self.exempt
        return bool(scope["method"] == method and scope["path"].startswith(prefix))

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps(render_error(too_large(self.max_bytes)).body)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # the unread rest of the body would be taken for the next request
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
