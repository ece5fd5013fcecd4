"""The sync side of the worker runtime: the reconciler's round over sync rows.

As for processing jobs, the row is the truth and the queue only carries ids: a sync whose run
went silent (kill -9) is no longer held after the heartbeat timeout and is sent again; a sync
queued, mid-pass or due to poll that no run holds is sent again too. The claim takes a sync
only for the attempt a message was sent for, so copies of a message never run it twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import structlog

from moorage.context import AppContext
from moorage.models.base import utcnow
from moorage.syncs.repository import sync_repository

__all__ = ["reconcile_syncs"]

log = structlog.get_logger(__name__)


def reconcile_syncs(
    ctx: AppContext, send: Callable[[list[tuple[uuid.UUID, int]]], None], *, all_queued: bool
) -> int:
    """One round; ``all_queued``: the queue is known empty (an in-process broker just started).
    Returns how many syncs were sent again."""
    now = utcnow()
    timeout = timedelta(seconds=ctx.settings.job_heartbeat_timeout_seconds)
    with ctx.db.session() as session:
        silent = sync_repository.take_back_silent(session, silent_since=now - timeout)
    if silent:
        log.warning("syncs.taken_back", count=len(silent), reason="heartbeat stopped")
    before = now if all_queued else now - timeout
    with ctx.db.session() as session:
        waiting = sync_repository.waiting(session, before=before, due_before=before)
    if waiting:
        log.info("syncs.resent", count=len(waiting))
    again = silent + [w for w in waiting if w not in silent]
    if again:
        send(again)
    return len(again)
