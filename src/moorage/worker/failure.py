"""What a failed job stores on its item: one payload, whatever failed."""

from __future__ import annotations

import re
from typing import Any

from moorage.errors import Failure
from moorage.media import LimitExceeded, MediaError
from moorage.storage.base import StorageError

__all__ = ["TransientJobError", "WorkRemoved", "error_payload", "scrub_paths"]

#: a path inside a job's temporary folder: ``<tmp>/moorage-job-<random>/<nnnnn>-``
_TEMP_PATH = re.compile(r"(?:/[^\s'\"/]+)*/moorage-job-[^/\s'\"]+/(?:\d{5}-)?")


class TransientJobError(Failure):
    """The storage failed in a way worth retrying; the job went back to ``queued``."""

    def __init__(self, reason: str, *, attempt: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempt = attempt


class WorkRemoved(Failure):
    """The job's item, slot or storage was deleted before the job ran."""

    def __init__(self) -> None:
        super().__init__("item removed")


def scrub_paths(message: str) -> str:
    """The message without this worker's temporary folders (a file keeps its own name)."""
    return _TEMP_PATH.sub("", message)


def error_payload(exc: BaseException, *, key: str | None) -> dict[str, Any]:
    """``{message, stage, storage_key, reason[, limit]}`` for any failure of a job.

    ``key`` is the slot's (first) file; a storage error names its own key when it has one.
    Messages never carry this worker's temporary paths.
    """
    stage, reason, extra = "internal", None, {}
    message = f"Unexpected {type(exc).__name__} while processing."
    if isinstance(exc, MediaError):
        stage, message = exc.stage, exc.message
        if isinstance(exc, LimitExceeded):
            reason, extra = "limit_exceeded", {"limit": exc.limit}
    elif isinstance(exc, StorageError):
        stage, message, reason, key = "read", exc.message, exc.reason, exc.key or key
    elif isinstance(exc, WorkRemoved):
        stage, message = "load", exc.message
    out: dict[str, Any] = {"message": scrub_paths(message), "stage": stage}
    if key is not None:
        out["storage_key"] = key
    if reason is not None:
        out["reason"] = reason
    return {**out, **extra}
