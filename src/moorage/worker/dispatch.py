"""Send jobs to the queue only after the transaction that created them commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import structlog
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = structlog.get_logger(__name__)

Dispatcher = Callable[[list[uuid.UUID]], None]
_dispatcher: Dispatcher | None = None
_sync_dispatcher: Dispatcher | None = None
_cleanup_dispatcher: Dispatcher | None = None
_release_dispatcher: Dispatcher | None = None
_KEY = "moorage.pending_jobs"
_SYNC_KEY = "moorage.pending_syncs"
_CLEANUP_KEY = "moorage.pending_cleanups"
_RELEASE_KEY = "moorage.pending_releases"


def set_dispatcher(dispatcher: Dispatcher | None) -> None:
    """Install the function that hands job ids to the broker (``None``: the reconciler will)."""
    global _dispatcher
    _dispatcher = dispatcher


def set_sync_dispatcher(dispatcher: Dispatcher | None) -> None:
    """Install the function that hands new sync ids to the broker (``None``: the reconciler)."""
    global _sync_dispatcher
    _sync_dispatcher = dispatcher


def set_cleanup_dispatcher(dispatcher: Dispatcher | None) -> None:
    """Install the function that hands new cleanup ids to the broker (``None``: the reconciler)."""
    global _cleanup_dispatcher
    _cleanup_dispatcher = dispatcher


def send_cleanup_after_commit(session: Session, cleanup_id: uuid.UUID) -> None:
    session.info.setdefault(_CLEANUP_KEY, []).append(cleanup_id)


def set_release_dispatcher(dispatcher: Dispatcher | None) -> None:
    """Install the function that hands new release ids to the broker (``None``: the reconciler)."""
    global _release_dispatcher
    _release_dispatcher = dispatcher


def send_release_after_commit(session: Session, release_id: uuid.UUID) -> None:
    session.info.setdefault(_RELEASE_KEY, []).append(release_id)


def send_sync_after_commit(session: Session, sync_id: uuid.UUID) -> None:
    session.info.setdefault(_SYNC_KEY, []).append(sync_id)


def send_after_commit(session: Session, job_ids: Sequence[uuid.UUID]) -> None:
    if job_ids:
        session.info.setdefault(_KEY, []).extend(job_ids)


@event.listens_for(Session, "after_commit")
def _send(session: Session) -> None:
    # SQLAlchemy fires this for a released SAVEPOINT too: its rows are not visible yet
    if session.in_nested_transaction():
        return
    for key, dispatcher in (
        (_KEY, _dispatcher),
        (_SYNC_KEY, _sync_dispatcher),
        (_CLEANUP_KEY, _cleanup_dispatcher),
        (_RELEASE_KEY, _release_dispatcher),
    ):
        pending: list[uuid.UUID] = session.info.pop(key, [])
        if not pending or dispatcher is None:
            continue
        try:
            dispatcher(pending)
        except Exception as exc:  # the rows stay queued; the reconciler re-sends them
            log.warning("jobs.dispatch_failed", kind=key, count=len(pending), error=str(exc))


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: SessionTransaction) -> None:
    # a SAVEPOINT rolled back undoes only its own rows; what was pending before it still commits
    if previous.nested:
        return
    session.info.pop(_KEY, None)
    session.info.pop(_SYNC_KEY, None)
    session.info.pop(_CLEANUP_KEY, None)
    session.info.pop(_RELEASE_KEY, None)
