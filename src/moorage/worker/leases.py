"""The jobs this process runs, kept alive by one heartbeat thread.

A claim makes the job ``running`` and bumps ``attempts``; that number is the lease's token.
Every heartbeat, the job's progress and ``updated_at`` are written only where the row is still
``running`` with that token. When the write finds no such row, the job was taken back (this
worker was silent past the timeout, or it handed the job back on shutdown): the lease is lost
and the job stops at its next page, frame or upload, writing nothing. The beats come from a
thread, not from the job, so one long step (a huge page, a slow download) cannot silence them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog

from moorage.config import Settings
from moorage.context import AppContext
from moorage.worker.repository import job_repository

__all__ = ["JobLost", "Lease", "Leases", "heartbeat_every", "reconcile_interval"]

log = structlog.get_logger(__name__)


def heartbeat_every(settings: Settings) -> float:
    """Seconds between beats: nine fit in the timeout, so a slow database is not a death."""
    return max(0.05, min(5.0, settings.job_heartbeat_timeout_seconds / 9))


def reconcile_interval(settings: Settings) -> float:
    """Seconds between reconciler rounds: a dead worker's jobs are back within timeout + this."""
    return max(0.1, min(10.0, settings.job_heartbeat_timeout_seconds / 4.5))


class JobLost(Exception):
    """The job is no longer this worker's: stop, and write nothing."""


@dataclass
class Lease:
    job_id: uuid.UUID
    token: int
    progress: dict[str, Any] | None = None
    lost: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.lost.is_set():
            raise JobLost(str(self.job_id))

    def report(self, done: int, total: int) -> None:
        """The progress callback of the media code; also where a lost job stops."""
        self.check()
        self.progress = {"done": done, "total": total}


class Leases:
    """One per process: holds the running jobs' leases and beats them from a thread."""

    def __init__(self, ctx: AppContext, *, every: float) -> None:
        self.ctx = ctx
        self.every = every
        self._held: dict[uuid.UUID, Lease] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def hold(self, job_id: uuid.UUID, token: int) -> Iterator[Lease]:
        lease = Lease(job_id, token)
        with self._lock:
            self._held[job_id] = lease
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="moorage-heartbeat", daemon=True
                )
                self._thread.start()
        try:
            yield lease
        finally:
            with self._lock:
                if self._held.get(job_id) is lease:
                    del self._held[job_id]

    def held(self) -> list[Lease]:
        with self._lock:
            return list(self._held.values())

    def beat(self) -> None:
        """Write every held lease's heartbeat once; mark the ones taken back as lost."""
        for lease in self.held():
            if lease.lost.is_set():
                continue
            with self.ctx.db.session() as session:
                alive = job_repository.heartbeat(
                    session, lease.job_id, token=lease.token, progress=lease.progress
                )
            if not alive:
                lease.lost.set()
                log.warning("job.lease_lost", job=str(lease.job_id), attempt=lease.token)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
            except Exception as exc:  # the database is away: beat again next round
                log.warning("job.heartbeat_failed", error=str(exc))

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(1.0, 2 * self.every))
