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
    ObjectExists,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)

__all__ = ["STATUS_OF", "Rendered", "render_error"]

#: neutral errors as HTTP statuses, the most specific class first; other storage errors are 502
STATUS_OF: dict[type[Exception], int] = {
    ObjectNotFound: 404,
    ObjectExists: 409,
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
        # its loc is ("body", <byte offset>): the field is the body, the offset says where
        where, message = "body", _json_invalid_message(first, exc.body)
    elif _is_raw_body(first):
        message = "The request body must be JSON, sent with Content-Type: application/json."
    else:
        message = f"{where}: {first.get('msg', 'invalid value')}"
    return Rendered(422, _body("VALIDATION_FAILED", message, where))


def _json_invalid_message(error: dict[str, Any], body: Any) -> str:
    """Where the JSON breaks: line and column of the byte offset FastAPI reports."""
    loc = error.get("loc", ())
    offset = loc[-1] if loc and isinstance(loc[-1], int) else None
    reason = str((error.get("ctx") or {}).get("error") or "not valid JSON")
    if offset is None:
        return f"The request body is not valid JSON ({reason})."
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    before = text[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return f"The request body is not valid JSON: {reason} at line {line}, column {column}."


def _is_raw_body(error: dict[str, Any]) -> bool:
    """A JSON model given the raw bytes: the body came without a JSON content type."""
    return tuple(error.get("loc", ())) == ("body",) and isinstance(
        error.get("input"), bytes | bytearray
    )


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"
