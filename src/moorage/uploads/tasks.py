"""The cleaning of expired uploads, run each round by every process's reconciler."""

from __future__ import annotations

import structlog

from moorage.context import AppContext
from moorage.uploads.service import upload_service

__all__ = ["clean_expired_uploads"]

log = structlog.get_logger(__name__)


def clean_expired_uploads(ctx: AppContext, *, limit: int = 500) -> int:
    """One transaction; returns how many items of expired uploads were deleted."""
    with ctx.db.session() as session:
        return upload_service.clean_expired(session, ctx, limit=limit)
