"""Send jobs to the queue only after the transaction that created them commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import structlog
from sqlalchemy import event
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)

Dispatcher = Callable[[list[uuid.UUID]], None]
_dispatcher: Dispatcher | None = None
_KEY = "moorage.pending_jobs"


def set_dispatcher(dispatcher: Dispatcher | None) -> None:
    """Install the function that hands job ids to the broker (``None``: the reconciler will)."""
    global _dispatcher
    _dispatcher = dispatcher


def send_after_commit(session: Session, job_ids: Sequence[uuid.UUID]) -> None:
    if job_ids:
        session.info.setdefault(_KEY, []).extend(job_ids)


@event.listens_for(Session, "after_commit")
def _send(session: Session) -> None:
    pending: list[uuid.UUID] = session.info.pop(_KEY, [])
    if not pending or _dispatcher is None:
        return
    try:
        _dispatcher(pending)
    except Exception as exc:  # the rows stay queued; the reconciler re-sends them
        log.warning("jobs.dispatch_failed", count=len(pending), error=str(exc))


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_KEY, None)
