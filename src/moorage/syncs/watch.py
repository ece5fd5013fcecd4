"""Watching syncs: bucket events applied as one-key syncs, or a poll when there are none.

Events come from ``moorage.storage.events`` sources (at least once): a batch is acknowledged
only after its events were applied and committed, and applying an event twice changes nothing
(the key's stored etag already says what the event says).
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.models import Dataset, StorageConfig, Sync, Team
from moorage.storage.base import ObjectInfo, ObjectNotFound, StorageError
from moorage.storage.events import EventBatch, EventSource, KeyEvent
from moorage.syncs.diff import COUNTS, Run, SyncLost, apply_page, handle_missing
from moorage.syncs.plan import Plan
from moorage.syncs.repository import LIVE, sync_repository

if TYPE_CHECKING:
    from moorage.storage.factory import StorageSpec

__all__ = ["apply_key_events", "build_run", "has_event_source", "open_event_source", "watch_window"]

log = structlog.get_logger(__name__)

#: one run of a watching sync receives events this long, then hands the sync on
WINDOW_SECONDS = 20.0


def open_event_source(spec: StorageSpec) -> EventSource | None:
    """The storage's bucket event source, or None (no queue configured, or no implementation
    in this installation: then the sync polls)."""
    try:
        module: Any = importlib.import_module("moorage.storage.events_sqs")
    except ImportError:
        return None
    source: EventSource | None = module.open_event_source(spec)
    return source


def build_run(session: Session, ctx: AppContext, sync: Sync, token: int) -> Run:
    team = session.get(Team, sync.team_id)
    dataset = session.get(Dataset, sync.dataset_id)
    storage = session.get(StorageConfig, sync.storage_id)
    if team is None or dataset is None or storage is None:
        raise StorageError("The sync's dataset or storage was deleted.")
    adapter = ctx.storages.adapter_for(session, storage)
    spec = dict(sync.spec or {})
    return Run(
        ctx=ctx,
        sync_id=sync.id,
        token=token,
        team=team,
        dataset_id=dataset.id,
        dataset_slug=dataset.slug,
        storage=storage,
        adapter=adapter,
        plan=Plan.from_spec(sync.prefix, spec),
        on_missing=str(spec.get("on_missing", "mark")),
        dry_run=bool(spec.get("dry_run")),
        counts={name: int((sync.counts or {}).get(name, 0)) for name in COUNTS},
        blocked=list(sync.blocked or []),
    )


def apply_key_events(
    session: Session,
    sync: Sync,
    events: Sequence[KeyEvent],
    *,
    ctx: AppContext,
    run: Run | None = None,
) -> Run:
    """Apply each event as a one-key sync, in order: created -> registered, changed or
    restored; removed -> missing (per ``on_missing``). Writes the counts on ``sync``; the
    caller commits (and acknowledges the events after that)."""
    run = run or build_run(session, ctx, sync, sync.attempts)
    for event in events:
        if not run.plan.wants(event.key):
            continue
        row = sync_repository.key(
            session, dataset_id=run.dataset_id, storage_id=run.storage.id, key=event.key
        )
        if event.kind == "removed":
            if row is not None and row.state == "present":
                handle_missing(session, run, [row])
            continue
        info = _info(run, event)
        if info is None:  # deleted again since: its removal event follows
            continue
        apply_page(session, run, [info], {event.key: row} if row else {}, boundary=None)
        session.flush()
    sync.counts = dict(run.counts)
    sync.blocked = list(run.blocked)
    return run


def _info(run: Run, event: KeyEvent) -> ObjectInfo | None:
    if event.size is not None and event.etag:
        return ObjectInfo(
            key=event.key, size=event.size, etag=event.etag, last_modified=event.event_time
        )
    try:
        return run.adapter.head(event.key)
    except ObjectNotFound:
        return None


def _source_for(ctx: AppContext, run: Run) -> EventSource | None:
    if run.plan.group != "none":  # a key event cannot close a folder or a series: poll
        return None
    with ctx.db.session() as session:
        if _consumer_of(session, run.storage.id) != run.sync_id:
            return None  # another sync consumes the queue (one message reaches one consumer)
        spec = ctx.storages.spec_for(session, run.storage)
    return open_event_source(spec)


def _consumes(sync: Sync) -> bool:
    spec = sync.spec or {}
    return bool(spec.get("watch")) and not spec.get("dry_run") and spec.get("group") == "none"


def _consumer_of(session: Session, storage_id: int) -> uuid.UUID | None:
    """The live watching sync of the storage that consumes its queue: the oldest. The others
    poll (a queue hands each message to one receiver, so two would each miss events)."""
    rows = session.scalars(
        select(Sync)
        .where(Sync.storage_id == storage_id, Sync.state.in_(LIVE))
        .order_by(Sync.created_at, Sync.id)
    )
    return next((row.id for row in rows if _consumes(row)), None)


def has_event_source(ctx: AppContext, run: Run) -> bool:
    source = _source_for(ctx, run)
    if source is None:
        return False
    source.close()
    return True


def watch_window(ctx: AppContext, run: Run, sync: Sync) -> bool:
    """Receive, apply, acknowledge for one window. False: no event source (poll instead)."""

    source = _source_for(ctx, run)
    if source is None:
        return False
    deadline = time.monotonic() + WINDOW_SECONDS
    failures = 0
    try:
        while (left := deadline - time.monotonic()) > 0:
            batch = _receive(source, min(10.0, left), failures)
            failures = 0 if batch is not None else failures + 1
            with ctx.db.session() as session:
                if batch is not None and batch.events:
                    row = sync_repository.by_id(session, run.sync_id)
                    assert row is not None
                    apply_key_events(session, row, batch.events, ctx=ctx, run=run)
                values = {"counts": dict(run.counts), "blocked": list(run.blocked)}
                if not sync_repository.held_update(session, run.sync_id, run.token, **values):
                    raise SyncLost(str(run.sync_id))
            if batch is not None:
                _ack(batch)  # after the commit: a crash before it re-delivers, harmlessly
    finally:
        source.close()
    return True


def _receive(source: EventSource, wait: float, failures: int) -> EventBatch | None:
    """A batch, or None after a transient failure of the queue (then waited a while): a
    watching sync outlives an unreachable queue; a lasting error (denied, gone) fails it."""
    try:
        return source.receive(wait_seconds=wait, max_events=100)
    except StorageError as exc:
        if not exc.retryable:
            raise
        log.warning("sync.events_unavailable", error=exc.message, failures=failures + 1)
        time.sleep(min(wait, 0.5 * 2**failures))
        return None


def _ack(batch: EventBatch) -> None:
    try:
        batch.ack()
    except StorageError as exc:  # not deleted: handed out again later, and applied again
        if not exc.retryable:
            raise
        log.warning("sync.events_ack_failed", error=exc.message)
