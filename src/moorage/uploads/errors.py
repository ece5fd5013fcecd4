from __future__ import annotations

from moorage.errors import Conflict, MoorageError, PayloadTooLarge

__all__ = [
    "UploadExpired",
    "UploadNotReceived",
    "UploadTooLarge",
    "UploadUrlRefused",
    "UploadUsed",
]


class UploadUrlRefused(MoorageError):
    """A PUT whose capability URL is forged, altered or past its time."""

    status_code = 403
    code = "UPLOAD_URL_REFUSED"


class UploadExpired(MoorageError):
    status_code = 410
    code = "UPLOAD_EXPIRED"


class UploadUsed(Conflict):
    """The upload already has its bytes (a second PUT never replaces the first)."""

    code = "UPLOAD_ALREADY_RECEIVED"


class UploadNotReceived(Conflict):
    code = "UPLOAD_NOT_RECEIVED"


class UploadTooLarge(PayloadTooLarge):
    code = "UPLOAD_TOO_LARGE"
