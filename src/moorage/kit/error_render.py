"""The one renderer: any error to its status, JSON body and headers.

Every error answer has the shape ``{"error": {"code", "message"[, "field", ...]}}``, plus
``"errors": {field: [message]}`` (what darwin-py reads) when one input is at fault. The neutral
storage and media errors get their status from ``STATUS_OF`` here, so that code stays free of HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from moorage.errors import MoorageError
from moorage.media.base import MediaError
from moorage.storage.errors import (
    AccessDenied,
    BucketNotFound,
    InvalidCredentials,
    InvalidKey,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)

__all__ = ["STATUS_OF", "Rendered", "render_error"]

#: neutral errors as HTTP statuses, the most specific class first; other storage errors are 502
STATUS_OF: dict[type[Exception], int] = {
    ObjectNotFound: 404,
    InvalidKey: 400,
    AccessDenied: 409,
    InvalidCredentials: 409,
    BucketNotFound: 409,
    StorageUnavailable: 503,
    StorageError: 502,
    MediaError: 422,
}


@dataclass(frozen=True, slots=True)
class Rendered:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def render_error(exc: BaseException) -> Rendered:
    """Status, body and headers of the answer to ``exc`` (500 for anything unforeseen)."""
    if isinstance(exc, MoorageError):
        body = _body(exc.code, exc.message, exc.field, exc.extra)
        return Rendered(exc.status_code, body, exc.headers())
    if isinstance(exc, RequestValidationError):
        return _validation(exc)
    if isinstance(exc, StorageError | MediaError):
        status = next(s for t, s in STATUS_OF.items() if isinstance(exc, t))
        code = exc.reason if isinstance(exc, StorageError) else "MEDIA_UNREADABLE"
        return Rendered(status, _body(code, exc.message))
    if isinstance(exc, HTTPException):
        return Rendered(exc.status_code, _body("HTTP_ERROR", str(exc.detail)))
    return Rendered(500, _body("UNEXPECTED_ERROR", "Something went wrong on the server."))


def _body(
    code: str, message: str, field: str | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if field is not None:
        body["error"]["field"] = field
        body["errors"] = {field: [message]}
    body["error"].update(extra or {})
    return body


def _validation(exc: RequestValidationError) -> Rendered:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    where = _field_of(tuple(first.get("loc", ())))
    if first.get("type") == "json_invalid":
        message = "The request body is not valid JSON."
    else:
        message = f"{where}: {first.get('msg', 'invalid value')}"
    return Rendered(422, _body("VALIDATION_FAILED", message, where))


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"
