"""The neutral storage errors: a stable ``reason`` code and a message, never an HTTP status.

The API maps them to statuses in one table (``moorage.kit.error_render``); registration turns
them into blocked items, the worker into a job's error.
"""

from __future__ import annotations

from moorage.errors import Failure

__all__ = [
    "AccessDenied",
    "BucketNotFound",
    "InvalidCredentials",
    "InvalidKey",
    "ObjectExists",
    "ObjectNotFound",
    "StorageError",
    "StorageUnavailable",
]


class StorageError(Failure):
    """Base of every storage failure. ``reason`` is a stable UPPER_SNAKE code."""

    reason = "STORAGE_ERROR"
    retryable = False

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class ObjectNotFound(StorageError):
    reason = "STORAGE_KEY_NOT_FOUND"


class ObjectExists(StorageError):
    """A write that must not replace an object found one at its key."""

    reason = "STORAGE_KEY_EXISTS"


class InvalidKey(StorageError):
    reason = "INVALID_STORAGE_KEY"


class AccessDenied(StorageError):
    reason = "STORAGE_ACCESS_DENIED"


class InvalidCredentials(StorageError):
    reason = "STORAGE_INVALID_CREDENTIALS"


class BucketNotFound(StorageError):
    reason = "STORAGE_BUCKET_NOT_FOUND"


class StorageUnavailable(StorageError):
    """Transient: timeouts, throttling, 5xx. Worth retrying with backoff."""

    reason = "STORAGE_UNAVAILABLE"
    retryable = True
