"""The error root, and the errors an API request answers with a status code.

``Failure`` is the root of every error moorage raises on purpose: storage (``StorageError``),
media (``MediaError``), registration (``Blocked``), the worker (``TransientJobError``) and the
API's own ``MoorageError`` below. Only ``MoorageError`` knows HTTP statuses; the neutral ones are
mapped to a status in one table, and every error is rendered by one function
(``moorage.kit.error_render``). This module imports nothing of moorage, so every layer may use it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "Conflict",
    "Failure",
    "MoorageError",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "Unauthorized",
    "ValidationFailed",
]


class Failure(Exception):
    """The root of moorage's errors: a message written for the person who must act on it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MoorageError(Failure):
    """An error an API request answers with ``status_code``; ``field`` names the input at fault."""

    status_code = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.field = field
        self.extra = extra

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
