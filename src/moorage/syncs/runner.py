"""What the ``run_sync`` actor does: hold the sync, walk the listing page by page, checkpoint.

A run claims the row (``held``, ``attempts`` + 1: its lease token) and writes every page's
results together with the checkpoint (cursor, counts, blocked) in one transaction guarded by the
token. Killed anywhere, the next run (sent by the reconciler once the heartbeat is stale)
continues at the checkpoint: the page in flight was written whole or not at all.

The next page is listed while the current one is registered, and on PostgreSQL two pages
register at once (one's Python runs while the database works on the other's rows); each page's
transaction commits after the one before it, so the checkpoint still covers every page before
it (decision 0040). A watching sync ends each run after its pass (polling: the next run is
sent with a delay of ``poll_seconds``) or after one window of bucket events (sent again at
once).
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import structlog

from moorage.context import AppContext
from moorage.models.base import utcnow
from moorage.storage.base import ListPage, ObjectInfo, StorageError
from moorage.syncs.diff import BLOCKED_KEPT, COUNTS, Run, SyncLost, apply_page
from moorage.syncs.overlap import page_folders, shares_new_folders
from moorage.syncs.repository import sync_repository
from moorage.syncs.watch import build_run, has_event_source, watch_window

__all__ = ["SyncLost", "run_sync"]

log = structlog.get_logger(__name__)

#: (sync id, attempt, delay in ms): how a run asks for the next one
Send = Callable[[uuid.UUID, int, int], None]
#: a transient listing error is retried this many times in a run, with backoff
LIST_RETRIES = 4
#: how long a page waits for the one before it to commit before it rolls back and waits
AHEAD_WAIT_S = 20.0


def run_sync(ctx: AppContext, sync_id: uuid.UUID, *, attempt: int | None, send: Send) -> str:
    """One run: a pass (or one watch window). Returns what happened, for the log."""
    with ctx.db.session() as session:
        token = sync_repository.claim(session, sync_id, attempt=attempt)
    if token is None:
        return "skipped"
    try:
        outcome = _run(ctx, sync_id, token, send)
    except SyncLost:
        log.info("sync.lost", sync=str(sync_id), attempt=token)
        return "lost"
    except StorageError as exc:
        _finish(
            ctx,
            sync_id,
            token,
            state="failed",
            error={"reason": exc.reason, "message": exc.message},
        )
        log.warning("sync.failed", sync=str(sync_id), reason=exc.reason)
        return "failed"
    except Exception as exc:
        log.exception("sync.crashed", sync=str(sync_id))
        message = f"Unexpected {type(exc).__name__} while syncing."
        _finish(
            ctx, sync_id, token, state="failed", error={"reason": "INTERNAL", "message": message}
        )
        return "failed"
    return outcome


def _finish(ctx: AppContext, sync_id: uuid.UUID, token: int, *, state: str, **values: Any) -> bool:
    with ctx.db.session() as session:
        return sync_repository.held_update(
            session, sync_id, token, state=state, held=False, finished_at=utcnow(), **values
        )


def _run(ctx: AppContext, sync_id: uuid.UUID, token: int, send: Send) -> str:
    with ctx.db.session() as session:
        sync = sync_repository.by_id(session, sync_id)
        assert sync is not None
        if sync.state == "queued":
            sync.state, sync.started_at = "running", utcnow()
    with ctx.db.session() as session:
        run = build_run(session, ctx, sync, token)
    if sync.state == "watching":
        if watch_window(ctx, run, sync):
            return _again(ctx, run, send, delay=0)
        # no event source: a polling pass, listed from the top
        sync.cursor, sync.last_key = None, None
        run.counts["listed"] = run.counts["unchanged"] = 0
    _pass(ctx, run, cursor=sync.cursor, last_key=sync.last_key)
    if not sync.spec.get("watch") or run.dry_run:
        if not _finish(
            ctx,
            sync_id,
            token,
            state="complete",
            cursor=None,
            last_key=None,
            passes=sync.passes + 1,
        ):
            raise SyncLost(str(sync_id))
        log.info("sync.complete", sync=str(sync_id), **run.counts)
        return "complete"
    poll = int(sync.spec.get("poll_seconds", 300))
    delay = 0 if has_event_source(ctx, run) else poll
    return _again(ctx, run, send, delay=delay, passes=sync.passes + 1)


def _again(ctx: AppContext, run: Run, send: Send, *, delay: int, **values: Any) -> str:
    """Watching: hand the sync back and send the next run (after ``delay`` seconds)."""
    with ctx.db.session() as session:
        ok = sync_repository.held_update(
            session,
            run.sync_id,
            run.token,
            state="watching",
            held=False,
            cursor=None,
            last_key=None,
            next_run_at=utcnow() + timedelta(seconds=delay),
            **values,
        )
    if not ok:
        raise SyncLost(str(run.sync_id))
    send(run.sync_id, run.token, delay * 1000)
    return "watching"


def _list(run: Run, cursor: str | None, size: int) -> ListPage:
    for attempt in range(LIST_RETRIES + 1):
        try:
            return run.adapter.list_page(run.plan.prefix, cursor=cursor, limit=size)
        except StorageError as exc:
            if not exc.retryable or attempt == LIST_RETRIES:
                raise
            time.sleep(min(8.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class _Listed:
    """A page as listed, with what the lister thread worked out for it beside the listing."""

    page: ListPage
    #: the objects the plan wants, in listing order
    wanted: list[ObjectInfo]
    #: the folders their items go in (only when pages may register at once)
    folders: set[str]


def _listed(run: Run, cursor: str | None, size: int, *, ahead: bool) -> _Listed:
    page = _list(run, cursor, size)
    wanted = [i for i in page.objects if run.plan.wants(i.key)]
    return _Listed(page, wanted, page_folders(run, wanted) if ahead else set())


def _pass(ctx: AppContext, run: Run, *, cursor: str | None, last_key: str | None) -> None:
    """The listing from ``cursor`` to its end, one checkpointed transaction per page; with
    ``ahead`` two pages register at once (each in its own transaction, committed in order).
    The lister thread lists the next page, and filters it and names its folders, while this
    one registers, so a page waits for no more than the one before it."""
    size = ctx.settings.sync_page_size
    ahead = _can_overlap(ctx, run)
    inflight: deque[Future[None]] = deque()
    folders: set[str] = set()  # those of the page registering before this one
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-list") as lister,
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="sync-page") as pager,
    ):
        listing = lister.submit(_listed, run, cursor, size, ahead=ahead)
        while True:
            listed = listing.result()
            page = listed.page
            if page.next_cursor is not None:  # list the next page while this one registers
                listing = lister.submit(_listed, run, page.next_cursor, size, ahead=ahead)
            if page.next_cursor is not None and not page.objects:
                continue  # an empty page in the middle: nothing to compare yet
            boundary = page.objects[-1].key if page.next_cursor is not None else None
            if not ahead:
                _apply(ctx, run, listed, low=last_key, high=boundary, before=None)
            else:
                _wait_for_shared(ctx, run, listed.folders, inflight, folders)
                folders = listed.folders
                before = inflight[-1] if inflight else None
                inflight.append(
                    pager.submit(
                        _apply, ctx, run, listed, low=last_key, high=boundary, before=before
                    )
                )
            last_key = boundary
            if page.next_cursor is None:
                break
        while inflight:
            inflight.popleft().result()


def _wait_for_shared(
    ctx: AppContext, run: Run, mine: set[str], inflight: deque[Future[None]], before: set[str]
) -> None:
    """Leave at most the page before this one in flight, and none when both need a folder not
    stored yet (overlap.py). Asked before waiting for the oldest page, so that the next page
    is handed over as soon as the oldest is done."""
    if inflight:
        with ctx.db.session() as session:
            shared = shares_new_folders(session, run, mine, before)
        if shared:
            while inflight:
                inflight.popleft().result()
            return
    if len(inflight) == 2:
        inflight.popleft().result()


def _can_overlap(ctx: AppContext, run: Run) -> bool:
    """Pages may register at once when no page reads what another writes: PostgreSQL (row
    locks, not a database lock), one item a key (no group's pending keys carried over) and
    items named after their keys' folders (no name two pages could both take)."""
    plan = run.plan
    return (
        ctx.settings.sync_pages_ahead
        and ctx.db.dialect == "postgresql"
        and plan.group == "none"
        and plan.preserve_folders
        and not run.dry_run
    )


def _apply(
    ctx: AppContext,
    run: Run,
    listed: _Listed,
    *,
    low: str | None,
    high: str | None,
    before: Future[None] | None,
) -> None:
    """One page in one transaction. ``before``: the page before it, still registering; this one
    is checkpointed (and committed) only after it. Waiting too long for it (its transaction may
    wait on a row this one wrote), or failing while it ran, rolls this page back and applies it
    again once ``before`` is done."""
    try:
        _apply_once(ctx, run, listed, low=low, high=high, before=before)
    except SyncLost:
        raise
    except Exception as exc:
        if before is None:
            raise
        before.result()  # its failure is the run's
        log.info("sync.page_again", sync=str(run.sync_id), error=repr(exc)[:300])
        _apply_once(ctx, run, listed, low=low, high=high, before=None)


def _apply_once(
    ctx: AppContext,
    run: Run,
    listed: _Listed,
    *,
    low: str | None,
    high: str | None,
    before: Future[None] | None,
) -> None:
    mine = replace(run, counts=dict.fromkeys(COUNTS, 0), blocked=[])
    with ctx.db.session() as session:
        sync_repository.commit_without_waiting(session)
        known = sync_repository.keys_between(
            session,
            dataset_id=run.dataset_id,
            storage_id=run.storage.id,
            low=low if low is not None else run.plan.prefix,
            low_inclusive=low is None,
            high=high,
        )
        if high is None and run.plan.prefix:  # the last page: only keys under the prefix
            known = {k: v for k, v in known.items() if k.startswith(run.plan.prefix)}
        apply_page(session, mine, listed.wanted, known, boundary=high, wanted=True)
        if before is not None:
            before.result(timeout=AHEAD_WAIT_S)
        counts = {k: run.counts.get(k, 0) + mine.counts.get(k, 0) for k in COUNTS}
        blocked = (run.blocked + mine.blocked)[:BLOCKED_KEPT]
        if not sync_repository.held_update(
            session,
            run.sync_id,
            run.token,
            cursor=listed.page.next_cursor,
            last_key=high,
            counts=counts,
            blocked=blocked,
        ):
            raise SyncLost(str(run.sync_id))  # rolls the page back
    run.counts, run.blocked = counts, blocked
