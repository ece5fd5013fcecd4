"""Dramatiq wiring: the broker, the actor, in-process workers and the reconciler.

``MOORAGE_BROKER_URL`` unset: a ``StubBroker`` with worker threads inside the API process.
``amqp://...`` / ``redis://...``: RabbitMQ or Redis; ``moorage worker`` consumes anywhere.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Sequence

import dramatiq
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from sqlalchemy.exc import OperationalError

from moorage.context import AppContext
from moorage.ops import metrics
from moorage.worker.cleanup import Transient, reconcile_cleanups, run_cleanup
from moorage.worker.dispatch import (
    set_cleanup_dispatcher,
    set_dispatcher,
    set_release_dispatcher,
    set_sync_dispatcher,
)
from moorage.worker.leases import Leases, heartbeat_every, reconcile_interval
from moorage.worker.pool import ChildDied, PoolStopped, ProcessingPool
from moorage.worker.priority import run_as_other, run_as_processing
from moorage.worker.reconciler import Reconciler
from moorage.worker.repository import job_repository
from moorage.worker.sending import send_many
from moorage.worker.tasks import TransientJobError, process_job

log = structlog.get_logger(__name__)
#: this logger's level as the standard library sees it (``moorage.worker.tasks``)
_LEVELS = logging.getLogger(__name__)

QUEUE = "moorage"
#: syncs have a queue of their own, so a sync never waits behind a backlog of processing jobs
#: (each queue has its own consumer), and a higher priority (lower number) than processing, so
#: a worker thread that has both at hand takes the sync first
SYNC_QUEUE = "moorage-syncs"
QUEUES = (QUEUE, SYNC_QUEUE)
SYNC_PRIORITY, PROCESSING_PRIORITY = 0, 10
#: retry delays after a transient storage error: 1 s, 2 s, 4 s ... at most 30 s, +-20 %
RETRY_MIN_MS = 1_000
RETRY_MAX_MS = 30_000


def make_broker(url: str | None) -> dramatiq.Broker:
    if not url:
        return StubBroker()
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)  # type: ignore[no-untyped-call]
    raise ValueError("MOORAGE_BROKER_URL must start with amqp:// or redis://")


def retry_delay_ms(attempt: int) -> int:
    base = min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** max(0, attempt - 1))
    return int(base * random.uniform(0.8, 1.2))


class Runtime:
    """One per process. Sends jobs after commit; optionally runs workers and the reconciler.

    Retries are ours, not Dramatiq's: a transient failure logs one line and sends the job
    again with a delay (Dramatiq's Retries middleware would log a traceback per attempt).
    """

    def __init__(self, ctx: AppContext, *, broker_url: str | None, threads: int) -> None:
        self.ctx = ctx
        self.broker = make_broker(broker_url)
        self.threads = threads
        self.actor: dramatiq.Actor[[str, int | None], None] = dramatiq.Actor(
            self._run,
            broker=self.broker,
            actor_name="process_slot",
            queue_name=QUEUE,
            priority=PROCESSING_PRIORITY,
            options={"max_retries": 0, "time_limit": 6 * 3_600_000},
        )
        self.sync_actor: dramatiq.Actor[[str, int | None], None] = dramatiq.Actor(
            self._run_sync,
            broker=self.broker,
            actor_name="run_sync",
            queue_name=SYNC_QUEUE,
            priority=SYNC_PRIORITY,
            options={"max_retries": 0, "time_limit": 24 * 3_600_000},
        )
        self.cleanup_actor: dramatiq.Actor[[str, int | None], None] = dramatiq.Actor(
            self._run_cleanup,
            broker=self.broker,
            actor_name="delete_derivatives",
            queue_name=QUEUE,
            priority=0,
            options={"max_retries": 0, "time_limit": 6 * 3_600_000},
        )
        self.release_actor: dramatiq.Actor[[str, int | None], None] = dramatiq.Actor(
            self._run_release,
            broker=self.broker,
            actor_name="build_release",
            queue_name=QUEUE,
            priority=0,
            options={"max_retries": 0, "time_limit": 24 * 3_600_000},
        )
        self.leases = Leases(ctx, every=heartbeat_every(ctx.settings))
        self.reconciler = Reconciler(ctx, self.broker, QUEUE, self._send_for)
        self.worker: dramatiq.Worker | None = None
        #: processing in child processes (``MOORAGE_PROCESSING_IN``), made by ``start_workers``
        self.pool: ProcessingPool | None = None
        self._stop = threading.Event()
        self._reconciler: threading.Thread | None = None

    def _run(self, job_id: str, attempt: int | None = None) -> None:
        if self.pool is not None:
            self._run_in_child(self.pool, job_id, attempt)
            return
        run_as_processing(self.ctx.settings.processing_nice)
        try:
            outcome = process_job(self.ctx, uuid.UUID(job_id), attempt=attempt, leases=self.leases)
        except TransientJobError as exc:
            self._retry(job_id, exc.attempt, exc.reason)
            return
        except OperationalError as exc:  # the database is away: the reconciler re-sends later
            self._database_away(job_id, str(exc))
            return
        if _LEVELS.isEnabledFor(logging.DEBUG):
            log.debug("job.outcome", job=job_id, outcome=outcome)

    def _run_in_child(self, pool: ProcessingPool, job_id: str, attempt: int | None) -> None:
        try:
            answer = pool.run(job_id, attempt)
        except PoolStopped:  # this process is stopping: the job is handed back by ``stop``
            return
        except ChildDied as exc:
            log.warning("job.child_died", job=job_id, taken_back=bool(exc.taken))
            # not taken back: it was still queued (no child had claimed it) or another worker
            # runs it; sent again for its attempt either way (a duplicate claims nothing)
            self._send_for(exc.taken or [(uuid.UUID(job_id), attempt)])
            return
        except OperationalError as exc:  # taking the job back failed: the reconciler will
            self._database_away(job_id, str(exc))
            return
        metrics.replay(answer.observed)
        if answer.retry_attempt is not None:
            self._retry(job_id, answer.retry_attempt, answer.retry_reason or "")
        elif answer.database_error is not None:
            self._database_away(job_id, answer.database_error)
        elif _LEVELS.isEnabledFor(logging.DEBUG):
            log.debug("job.outcome", job=job_id, outcome=answer.outcome)

    def _retry(self, job_id: str, attempt: int, reason: str) -> None:
        delay = retry_delay_ms(attempt)
        log.warning("job.retry", job=job_id, attempt=attempt, reason=reason, delay_ms=delay)
        self.actor.send_with_options(args=(job_id, attempt), delay=delay)

    def _database_away(self, job_id: str, error: str) -> None:
        log.warning("job.database_unavailable", job=job_id, error=error.splitlines()[0])

    def _run_sync(self, sync_id: str, attempt: int | None = None) -> None:
        from moorage.syncs.runner import run_sync

        run_as_other()
        try:
            outcome = run_sync(self.ctx, uuid.UUID(sync_id), attempt=attempt, send=self._next_sync)
        except OperationalError as exc:  # the database is away: the reconciler re-sends later
            log.warning("sync.database_unavailable", sync=sync_id, error=str(exc).splitlines()[0])
            return
        log.debug("sync.outcome", sync=sync_id, outcome=outcome)

    def _run_cleanup(self, cleanup_id: str, attempt: int | None = None) -> None:
        try:
            outcome = run_cleanup(self.ctx, uuid.UUID(cleanup_id), attempt=attempt)
        except Transient as exc:  # the storage is away: again later, with the backoff of jobs
            delay = retry_delay_ms(exc.attempt)
            self.cleanup_actor.send_with_options(args=(cleanup_id, exc.attempt), delay=delay)
            return
        except OperationalError as exc:  # the database is away: the reconciler re-sends later
            log.warning("cleanup.database_unavailable", cleanup=cleanup_id, error=str(exc))
            return
        log.debug("cleanup.outcome", cleanup=cleanup_id, outcome=outcome)

    def send_cleanups(self, cleanup_ids: list[uuid.UUID]) -> None:
        for cleanup_id in cleanup_ids:
            self.cleanup_actor.send(str(cleanup_id), None)

    def _send_cleanups_for(self, cleanups: list[tuple[uuid.UUID, int]]) -> None:
        for cleanup_id, attempt in cleanups:
            self.cleanup_actor.send(str(cleanup_id), attempt)

    def _run_release(self, release_id: str, attempt: int | None = None) -> None:
        from moorage.releases.tasks import build_release

        run_as_other()
        try:
            outcome = build_release(self.ctx, uuid.UUID(release_id), attempt=attempt)
        except OperationalError as exc:  # the database is away: the reconciler re-sends later
            log.warning("release.database_unavailable", release=release_id, error=str(exc))
            return
        log.debug("release.outcome", release=release_id, outcome=outcome)

    def send_releases(self, release_ids: list[uuid.UUID]) -> None:
        for release_id in release_ids:
            self.release_actor.send(str(release_id), None)

    def _send_releases_for(self, releases: list[tuple[uuid.UUID, int]]) -> None:
        for release_id, attempt in releases:
            self.release_actor.send(str(release_id), attempt)

    def _next_sync(self, sync_id: uuid.UUID, attempt: int, delay_ms: int) -> None:
        self.sync_actor.send_with_options(args=(str(sync_id), attempt), delay=delay_ms or None)

    def send_syncs(self, sync_ids: list[uuid.UUID]) -> None:
        for sync_id in sync_ids:
            self.sync_actor.send(str(sync_id), None)

    def _send_syncs_for(self, syncs: list[tuple[uuid.UUID, int]]) -> None:
        for sync_id, attempt in syncs:
            self.sync_actor.send(str(sync_id), attempt)

    def send(self, job_ids: list[uuid.UUID]) -> None:
        """Send new jobs (or ones put back by hand): whichever message comes first runs them.
        One message a job, all of them in one pipeline (``sending.py``)."""
        self._send_for([(job_id, None) for job_id in job_ids])

    def _send_for(self, jobs: Sequence[tuple[uuid.UUID, int | None]]) -> None:
        """Send jobs for their current attempt: a copy sent earlier for it then takes nothing."""
        send_many(self.broker, self.actor, [(str(j), attempt) for j, attempt in jobs])

    def install(self) -> None:
        """Jobs committed from now on in this process are sent through this runtime."""
        set_dispatcher(self.send)
        set_sync_dispatcher(self.send_syncs)
        set_cleanup_dispatcher(self.send_cleanups)
        set_release_dispatcher(self.send_releases)

    def start_workers(self, *, reconcile_every: float | None = None) -> None:
        every = reconcile_every or reconcile_interval(self.ctx.settings)
        if self.ctx.settings.processing_in == "processes":
            self.pool = ProcessingPool(self.ctx, self.threads)
        self.worker = dramatiq.Worker(self.broker, queues=set(QUEUES), worker_threads=self.threads)
        self.worker.start()
        self._reconciler = threading.Thread(
            target=self._reconcile_loop, args=(every,), name="moorage-reconciler", daemon=True
        )
        self._reconciler.start()
        # an in-process queue died with the last process: everything still queued was lost
        self.reconcile(all_queued=isinstance(self.broker, StubBroker))

    def reconcile(self, *, all_queued: bool = False, limit: int = 5000) -> int:
        """Take back silent running jobs and re-send lost queued ones. Returns how many."""
        from moorage.releases.tasks import reconcile_releases
        from moorage.syncs.tasks import reconcile_syncs
        from moorage.uploads.tasks import clean_expired_uploads

        jobs = self.reconciler.run(all_queued=all_queued, limit=limit)
        jobs += reconcile_cleanups(self.ctx, self._send_cleanups_for, all_queued=all_queued)
        syncs = reconcile_syncs(self.ctx, self._send_syncs_for, all_queued=all_queued)
        releases = reconcile_releases(self.ctx, self._send_releases_for, all_queued=all_queued)
        try:
            clean_expired_uploads(self.ctx)
        except Exception as exc:  # storage or database away: the next round cleans
            log.warning("uploads.clean_failed", error=str(exc))
        return jobs + syncs + releases

    def _reconcile_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.reconcile()
            except Exception as exc:  # database or broker down: try again next round
                log.warning("jobs.reconcile_failed", error=str(exc))

    def join(self) -> None:
        """Wait until every message sent so far is processed (in-process broker only)."""
        assert isinstance(self.broker, StubBroker)
        broker = self.broker
        while True:  # a sync's page sends jobs: go round until both queues are done
            for queue in QUEUES:
                broker.join(queue, fail_fast=True)
            names = [n for q in QUEUES for n in (q, dq_name(q)) if n in broker.queues]
            if not any(broker.queues[n].unfinished_tasks for n in names):
                break
        if self.worker is not None:
            self.worker.join()

    def stop(self, *, grace: float | None = None) -> int:
        """Stop taking jobs; let running ones finish for ``grace`` seconds (default the
        ``worker_grace_seconds`` setting), then hand the rest back: queued, and sent again.
        Returns how many were handed back."""
        grace = self.ctx.settings.worker_grace_seconds if grace is None else grace
        self._stop.set()
        set_dispatcher(None)
        set_sync_dispatcher(None)
        set_cleanup_dispatcher(None)
        set_release_dispatcher(None)
        if self.worker is not None:
            self.worker.stop(timeout=max(1, int(grace * 1000)))
        handed = self._hand_back(self.pool.stop() if self.pool is not None else [])
        self.leases.stop()
        self.broker.close()
        return handed

    def _hand_back(self, handed: list[tuple[uuid.UUID, int]]) -> int:
        """Hand back this process's running jobs, and ``handed`` (its children's)."""
        for lease in self.leases.held():
            lease.lost.set()  # the run stops at its next page, frame or upload
            with self.ctx.db.session() as session:
                if job_repository.requeue(session, lease.job_id, token=lease.token):
                    handed.append((lease.job_id, lease.token))
        if handed:
            log.warning("jobs.handed_back", count=len(handed), reason="worker stopping")
            try:
                self._send_for(handed)
            except Exception as exc:  # queued in the database: another reconciler re-sends
                log.warning("jobs.hand_back_send_failed", count=len(handed), error=str(exc))
        return len(handed)
