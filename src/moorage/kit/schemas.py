"""Annotated types for request schemas: strings both databases store alike.

``SafeStr`` refuses NUL (PostgreSQL cannot store it, SQLite does) and lone surrogates;
``NameStr`` also refuses control characters, for single-line names, slugs and paths;
``SafeJson`` refuses them anywhere inside an object stored as JSON (JSONB rejects ``\\u0000``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from moorage.kit.text import find_unsafe, unsafe_text

__all__ = ["ERROR_RESPONSES", "ErrorBody", "NameStr", "SafeJson", "SafeStr"]


def _invalid(reason: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_characters", reason)


def _safe(value: str) -> str:
    reason = unsafe_text(value)
    if reason is not None:
        raise _invalid(reason)
    return value


def _name(value: str) -> str:
    reason = unsafe_text(value, single_line=True)
    if reason is not None:
        raise _invalid(reason)
    return value


def _safe_json(value: dict[str, Any]) -> dict[str, Any]:
    found = find_unsafe(value)
    if found is not None:
        where, reason = found
        raise _invalid(f"{where} {reason}" if where else reason)
    return value


SafeStr = Annotated[str, AfterValidator(_safe)]
NameStr = Annotated[str, AfterValidator(_name)]
SafeJson = Annotated[dict[str, Any], AfterValidator(_safe_json)]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="a stable code, e.g. VALIDATION_FAILED, NOT_FOUND")
    message: str
    field: str | None = Field(default=None, description="the input at fault")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx: ``{"error": {...}, "errors": {field: [message]}}``."""

    error: ErrorDetail
    errors: dict[str, list[str]] | None = Field(
        default=None, description="darwin-py's shape of a validation error"
    )


_DESCRIPTIONS = {
    400: "Bad request: the field named cannot be used",
    401: "No valid API key",
    404: "Not found (also another team's object)",
    409: "Conflict with the stored state",
    413: "Request body or item count over the limit",
    422: "Validation failed: the field named is wrong",
    429: "Too many requests for this API key: retry after the Retry-After header's seconds",
}
#: the error answers every route may give, documented once for the OpenAPI schema
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _DESCRIPTIONS.items()
}
