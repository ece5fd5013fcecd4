"""Processing jobs in child processes, out of the GIL of the process that takes the messages.

The Dramatiq worker threads still take every message (the broker stays the only queue); for a
processing job the thread hands ``(job id, attempt)`` to a ``ProcessPoolExecutor`` of warm
children and waits, its GIL released, while a child claims, runs and records the job exactly as
a thread would (its own database connection, its own leases and heartbeats). So a push's
requests and a sync's pages are no longer slowed by the thumbnails made beside them in the
same process (decision 0048). Each child is niced ``MOORAGE_PROCESSING_NICE`` as a whole.

A child has no broker: its commits send nothing (a processing job creates no other job; one
that did would be sent by the reconciler, as after a lost message). A child that dies (killed,
out of memory) breaks the pool: the parent makes a new one and takes the jobs it had in flight
back at once (``running`` -> ``queued``, sent again): a lease that was still alive elsewhere is
only ended by that (its run records nothing), never doubled.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.exc import OperationalError

from moorage.config import Settings
from moorage.context import AppContext
from moorage.ops import metrics
from moorage.worker.failure import TransientJobError
from moorage.worker.leases import Leases, heartbeat_every
from moorage.worker.repository import job_repository
from moorage.worker.tasks import process_job

__all__ = ["Answer", "ChildDied", "PoolStopped", "ProcessingPool"]

log = structlog.get_logger(__name__)


@dataclass
class Answer:
    """What a child's run of one job came to, as plain data."""

    outcome: str
    #: ``TransientJobError``: the attempt it was put back as, and why
    retry_attempt: int | None = None
    retry_reason: str | None = None
    #: ``OperationalError``: the database was away
    database_error: str | None = None
    #: the job's metrics, observed by the parent (whose ``/metrics`` is scraped)
    observed: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


class PoolStopped(Exception):
    """The pool was stopped while (or before) the job ran: ``stop`` took it back."""


class ChildDied(Exception):
    """The child running the job died. ``taken``: the job as taken back, to send again (empty
    when it was no longer running: finished, or taken by another worker)."""

    def __init__(self, job_id: str, taken: list[tuple[uuid.UUID, int]]) -> None:
        super().__init__(job_id)
        self.taken = taken


# -- in the child ---------------------------------------------------------------------------

_child: dict[str, Any] = {}


def _start_child(settings: dict[str, Any], nice: int, parent: int) -> None:
    # Ctrl-C, or a service manager's SIGTERM to the whole group, is the parent's to act on: it
    # lets running jobs finish for its grace period, then kills us and hands their jobs back
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if nice and hasattr(os, "nice"):
        os.nice(nice)
    from moorage.logs import configure_logging

    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    s = Settings(**settings)
    configure_logging(s.log_level, s.log_format)
    ctx = AppContext.from_settings(s)
    _child["ctx"] = ctx
    _child["leases"] = Leases(ctx, every=heartbeat_every(s))


def _exit_with_parent(parent: int) -> None:
    """A pool's child holds both ends of its call queue, and the fork server's child holds the
    fork server's own liveness pipe, so neither learns that the process feeding them was killed
    (SIGKILL, the OOM killer). The child looks for that process itself and exits after it;
    then the fork server, the pipe's last other holder gone, exits too."""
    while not _PAUSE.wait(_PARENT_CHECK_S):
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the pid was taken by another user's process: ours is gone
            os._exit(0)


_PAUSE = threading.Event()
_PARENT_CHECK_S = 0.5


def _run_in_child(job_id: str, attempt: int | None) -> Answer:
    observed: list[tuple[str, tuple[Any, ...]]] = []
    metrics.defer_to(observed)
    answer = _answer(job_id, attempt)
    answer.observed = observed
    return answer


def _answer(job_id: str, attempt: int | None) -> Answer:
    ctx: AppContext = _child["ctx"]
    try:
        outcome = process_job(ctx, uuid.UUID(job_id), attempt=attempt, leases=_child["leases"])
        return Answer(outcome)
    except TransientJobError as exc:
        return Answer("retry", retry_attempt=exc.attempt, retry_reason=exc.reason)
    except OperationalError as exc:
        return Answer("database", database_error=str(exc).splitlines()[0])


# -- in the parent --------------------------------------------------------------------------


def _context() -> multiprocessing.context.BaseContext:
    """A fork server where there is one: it imports moorage once (seconds) and forks each child
    from that clean, single-threaded process (milliseconds); a plain fork of a process with
    threads is unsafe. Elsewhere: spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["moorage.worker.forkserver"])
    return context


class ProcessingPool:
    """``size`` warm children, started on first use, made again when one dies."""

    def __init__(self, ctx: AppContext, size: int) -> None:
        self.ctx = ctx
        self.size = size
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        #: jobs handed to a child and not answered yet, with how many threads wait for each
        self._running: dict[str, int] = {}

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise PoolStopped()
            if self._executor is None:
                settings = self.ctx.settings.model_dump()
                self._executor = ProcessPoolExecutor(
                    max_workers=self.size,
                    mp_context=_context(),
                    initializer=_start_child,
                    initargs=(settings, self.ctx.settings.processing_nice, os.getpid()),
                )
            return self._executor

    def run(self, job_id: str, attempt: int | None) -> Answer:
        """Run the job in a child and wait for its answer. Raises ``ChildDied`` after taking
        the job back when the child died under it, ``PoolStopped`` once ``stop`` was called."""
        executor = self._pool()
        with self._lock:
            self._running[job_id] = self._running.get(job_id, 0) + 1
        try:
            return executor.submit(_run_in_child, job_id, attempt).result()
        except BrokenProcessPool:
            if self._closed:  # stopped: ``stop`` takes the job back and says so
                raise PoolStopped() from None
            self._forget(executor)
            raise ChildDied(job_id, self._take_back([job_id])) from None
        finally:
            with self._lock:
                left = self._running.pop(job_id) - 1
                if left:
                    self._running[job_id] = left

    def _take_back(self, job_ids: list[str]) -> list[tuple[uuid.UUID, int]]:
        taken: list[tuple[uuid.UUID, int]] = []
        with self.ctx.db.session() as session:
            for job_id in job_ids:
                taken += job_repository.take_back(session, uuid.UUID(job_id))
        return taken

    def _forget(self, broken: ProcessPoolExecutor) -> None:
        """A broken pool is gone for good: the children it still has are killed with it, so
        none goes on with a job that is taken back."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
        for process in _processes(broken).values():
            process.kill()
        broken.shutdown(wait=False, cancel_futures=True)

    def pids(self) -> list[int]:
        """The children's process ids (none before the first job)."""
        with self._lock:
            executor = self._executor
        return [] if executor is None else sorted(_processes(executor))

    def stop(self) -> list[tuple[uuid.UUID, int]]:
        """Stop the children at once (the parent's grace period has passed) and take back the
        jobs they still ran: ``(id, attempts)`` to send again."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
            running = list(self._running)
        if executor is None:
            return []
        for process in _processes(executor).values():
            process.kill()  # a killed child runs no more code: its jobs can be taken back now
        # not joined: a SIGTERM to the whole group may have ended the fork server, and with it
        # the only way to learn a forked child's exit status
        executor.shutdown(wait=False, cancel_futures=True)
        return self._take_back(running) if running else []


def _processes(executor: ProcessPoolExecutor) -> dict[int, Any]:
    """The executor's children by pid: its own table (``terminate_workers`` is Python 3.14's)."""
    return dict(getattr(executor, "_processes", None) or {})
