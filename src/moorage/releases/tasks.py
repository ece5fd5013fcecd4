"""The release side of the worker runtime: the build actor's body and the reconciler's round.

As for processing jobs and syncs, the row is the truth and the queue only carries ids: a build
whose worker died (its heartbeat stopped) or whose message was lost is sent again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import structlog

from moorage.context import AppContext
from moorage.models.base import utcnow
from moorage.releases.build import build_release
from moorage.releases.repository import release_repository

__all__ = ["build_release", "reconcile_releases"]

log = structlog.get_logger(__name__)


def reconcile_releases(
    ctx: AppContext, send: Callable[[list[tuple[uuid.UUID, int]]], None], *, all_queued: bool
) -> int:
    """One round; ``all_queued``: the queue is known empty (an in-process broker just started).
    Returns how many builds were sent again."""
    now = utcnow()
    timeout = timedelta(seconds=ctx.settings.job_heartbeat_timeout_seconds)
    before = now if all_queued else now - timeout
    with ctx.db.session() as session:
        waiting = release_repository.waiting(session, before=before, silent_since=now - timeout)
    if waiting:
        log.info("releases.resent", count=len(waiting))
        send(waiting)
    return len(waiting)
