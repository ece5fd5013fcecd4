"""One error base with a status code; a single handler renders them as JSON."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "Conflict",
    "MoorageError",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
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

    def headers(self) -> dict[str, str]:
        """Response headers that go with this error."""
        return {}


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


class RateLimited(MoorageError):
    status_code = 429
    code = "RATE_LIMITED"

    def __init__(self, retry_after: int, *, limit: int) -> None:
        super().__init__(
            f"Too many requests for this API key (limit {limit}); retry in {retry_after} s.",
            retry_after=retry_after,
        )
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
