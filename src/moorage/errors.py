"""One error base with a status code; a single handler renders them as JSON."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "Conflict",
    "MoorageError",
    "NotFound",
    "PayloadTooLarge",
    "Unauthorized",
    "ValidationFailed",
]


class MoorageError(Exception):
    status_code = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": {"code": self.code, "message": self.message}}
        if self.field is not None:
            body["error"]["field"] = self.field
            # the shape darwin-py understands for 422s
            body["errors"] = {self.field: [self.message]}
        body["error"].update(self.extra)
        return body


class BadRequest(MoorageError):
    status_code = 400
    code = "BAD_REQUEST"


class Unauthorized(MoorageError):
    status_code = 401
    code = "UNAUTHORIZED"


class NotFound(MoorageError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(MoorageError):
    status_code = 409
    code = "CONFLICT"


class PayloadTooLarge(MoorageError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class ValidationFailed(MoorageError):
    status_code = 422
    code = "VALIDATION_FAILED"
