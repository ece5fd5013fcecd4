"""The cleanup job: delete what moorage wrote for deleted items (``cleanup_plan.py``).

The ``cleanups`` row is written in the transaction that deletes the items and sent to the queue
after it commits (``dispatch.send_cleanup_after_commit``). Deleting is idempotent, so a run
needs no lease: a run that died is taken back by the reconciler and simply done again. A storage
outage puts the row back to ``queued`` and the message is sent again later (``Transient``); a
storage the team deleted meanwhile has nothing left to delete. Each page of a folder deleted
touches the row, so the reconciler takes back only a run that stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.models import Cleanup, StorageConfig
from moorage.models.base import utcnow
from moorage.storage.base import StorageAdapter, StorageError
from moorage.worker.cleanup_plan import Target

__all__ = ["Transient", "add_cleanup", "reconcile_cleanups", "run_cleanup"]

log = structlog.get_logger(__name__)
cleanups_t = cast(Table, Cleanup.__table__)


class Transient(Exception):
    """The storage was away: the cleanup is queued again for ``attempt``."""

    def __init__(self, reason: str, attempt: int) -> None:
        super().__init__(reason)
        self.reason, self.attempt = reason, attempt


def add_cleanup(session: Session, team_id: int, targets: list[Target]) -> uuid.UUID | None:
    """The row of a cleanup, in the caller's transaction (None when there is nothing to do)."""
    if not targets:
        return None
    row = Cleanup(team_id=team_id, targets=[t.as_json() for t in targets])
    session.add(row)
    session.flush()
    return row.id


def _claim(session: Session, cleanup_id: uuid.UUID, attempt: int | None) -> int | None:
    conds = [cleanups_t.c.id == cleanup_id, cleanups_t.c.status == "queued"]
    if attempt is not None:
        conds.append(cleanups_t.c.attempts == attempt)
    row = session.execute(
        update(cleanups_t)
        .where(*conds)
        .values(status="running", attempts=cleanups_t.c.attempts + 1, updated_at=utcnow())
        .returning(cleanups_t.c.attempts)
    ).first()
    return None if row is None else int(row[0])


def _set(session: Session, cleanup_id: uuid.UUID, token: int, **values: Any) -> None:
    session.execute(
        update(cleanups_t)
        .where(
            cleanups_t.c.id == cleanup_id,
            cleanups_t.c.attempts == token,
            cleanups_t.c.status == "running",
        )
        .values(**values, updated_at=utcnow())
    )


def run_cleanup(ctx: AppContext, cleanup_id: uuid.UUID, *, attempt: int | None = None) -> str:
    """done, error or skipped (not queued for this attempt); raises ``Transient``."""
    with ctx.db.session() as session:
        token = _claim(session, cleanup_id, attempt)
        if token is None:
            return "skipped"
        row = session.get(Cleanup, cleanup_id)
        assert row is not None
        team_id, targets = row.team_id, [Target.from_json(t) for t in row.targets]
    deleted = 0

    def beat() -> None:  # a page deleted: the run is alive (the reconciler leaves it alone)
        with ctx.db.session() as session:
            _set(session, cleanup_id, token)

    try:
        for target in targets:
            deleted += _clean(ctx, team_id, target, beat)
    except StorageError as exc:
        error = {"reason": exc.reason, "message": exc.message}
        with ctx.db.session() as session:
            status = "queued" if exc.retryable else "error"
            _set(session, cleanup_id, token, status=status, error=error)
        if exc.retryable:
            log.warning("cleanup.retry", cleanup=str(cleanup_id), reason=exc.reason)
            raise Transient(exc.reason, token) from exc
        log.warning("cleanup.failed", cleanup=str(cleanup_id), reason=exc.reason)
        return "error"
    with ctx.db.session() as session:
        _set(session, cleanup_id, token, status="done", error=None, deleted=deleted)
    log.info("cleanup.done", cleanup=str(cleanup_id), deleted=deleted)
    return "done"


def _clean(ctx: AppContext, team_id: int, target: Target, beat: Callable[[], None]) -> int:
    with ctx.db.session() as session:
        storage = session.scalars(
            select(StorageConfig).where(
                StorageConfig.team_id == team_id, StorageConfig.id == target.storage_id
            )
        ).one_or_none()
        if storage is None or storage.readonly:  # gone, or never to be written
            return 0
        adapter = ctx.storages.adapter_for(session, storage)
    keep = set(target.keep)
    deleted = 0
    for folder in target.folders:
        deleted += _clean_folder(adapter, folder, keep, beat)
    for key in target.keys:
        if key not in keep:
            adapter.delete(key)
            deleted += 1
    return deleted


def _clean_folder(
    adapter: StorageAdapter, folder: str, keep: set[str], beat: Callable[[], None]
) -> int:
    deleted, cursor = 0, None
    while True:
        page = adapter.list_page(folder, cursor=cursor)
        for obj in page.objects:
            if obj.key.startswith(folder) and obj.key not in keep:
                adapter.delete(obj.key)
                deleted += 1
        if page.next_cursor is None:
            return deleted
        beat()
        cursor = page.next_cursor


def reconcile_cleanups(
    ctx: AppContext, send: Callable[[list[tuple[uuid.UUID, int]]], None], *, all_queued: bool
) -> int:
    """Take back runs that went silent and re-send queued cleanups whose message may be lost.
    ``all_queued``: the queue is known empty (an in-process broker that just started)."""
    now = utcnow()
    timeout = timedelta(seconds=ctx.settings.job_heartbeat_timeout_seconds)
    with ctx.db.session() as session:
        session.execute(
            update(cleanups_t)
            .where(cleanups_t.c.status == "running", cleanups_t.c.updated_at < now - timeout)
            .values(status="queued", updated_at=now)
        )
        again = _waiting(session, before=now if all_queued else now - timeout)
    if again:
        log.info("cleanups.resent", count=len(again))
        send(again)
    return len(again)


def _waiting(session: Session, *, before: datetime) -> list[tuple[uuid.UUID, int]]:
    """Queued cleanups not touched since ``before``, touched now so one reconciler sends each."""
    rows = session.execute(
        update(cleanups_t)
        .where(cleanups_t.c.status == "queued", cleanups_t.c.updated_at <= before)
        .values(updated_at=utcnow())
        .returning(cleanups_t.c.id, cleanups_t.c.attempts)
    ).all()
    return [(r[0], int(r[1])) for r in rows]
