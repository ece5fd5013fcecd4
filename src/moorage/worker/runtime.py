"""Dramatiq wiring: the broker, the actor, in-process workers and the reconciler.

``MOORAGE_BROKER_URL`` unset: a ``StubBroker`` with worker threads inside the API process.
``amqp://...`` / ``redis://...``: RabbitMQ or Redis; ``moorage worker`` consumes anywhere.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import dramatiq
import structlog
from dramatiq.brokers.stub import StubBroker

from moorage.context import AppContext
from moorage.models.base import utcnow
from moorage.worker.dispatch import set_dispatcher
from moorage.worker.repository import job_repository
from moorage.worker.tasks import RUNNING_STALE, TransientJobError, process_job

log = structlog.get_logger(__name__)

QUEUE = "moorage"
#: a queued job nobody took for this long is sent again (lost message, broker outage)
QUEUED_STALE = timedelta(minutes=2)


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


def _retry_when(retries: int, exc: BaseException) -> bool:
    return isinstance(exc, TransientJobError) and retries < 8


class Runtime:
    """One per process. Sends jobs after commit; optionally runs workers and the reconciler."""

    def __init__(self, ctx: AppContext, *, broker_url: str | None, threads: int) -> None:
        self.ctx = ctx
        self.broker = make_broker(broker_url)
        self.threads = threads
        self.actor: dramatiq.Actor[[str], None] = dramatiq.Actor(
            self._run,
            broker=self.broker,
            actor_name="process_slot",
            queue_name=QUEUE,
            priority=0,
            options={
                "retry_when": _retry_when,
                "min_backoff": 1_000,
                "max_backoff": 120_000,
                "time_limit": 6 * 3_600_000,
            },
        )
        self.worker: dramatiq.Worker | None = None
        self._stop = threading.Event()
        self._reconciler: threading.Thread | None = None

    def _run(self, job_id: str) -> None:
        outcome = process_job(self.ctx, uuid.UUID(job_id))
        log.debug("job.outcome", job=job_id, outcome=outcome)

    def send(self, job_ids: list[uuid.UUID]) -> None:
        for job_id in job_ids:
            self.actor.send(str(job_id))

    def install(self) -> None:
        """Jobs committed from now on in this process are sent through this runtime."""
        set_dispatcher(self.send)

    def start_workers(self, *, reconcile_every: float = 30.0) -> None:
        self.worker = dramatiq.Worker(self.broker, queues={QUEUE}, worker_threads=self.threads)
        self.worker.start()
        self._reconciler = threading.Thread(
            target=self._reconcile_loop,
            args=(reconcile_every,),
            name="moorage-reconciler",
            daemon=True,
        )
        self._reconciler.start()
        # an in-process queue died with the last process: everything still queued was lost
        self.reconcile(all_queued=isinstance(self.broker, StubBroker))

    def reconcile(self, *, all_queued: bool = False, limit: int = 5000) -> int:
        """Re-send jobs left queued or running past their deadline. Returns how many."""
        now = utcnow()
        queued_before = now if all_queued else now - QUEUED_STALE
        with self.ctx.db.session() as session:
            stale = list(
                job_repository.stale(
                    session,
                    queued_before=queued_before,
                    running_before=now - RUNNING_STALE,
                    limit=limit,
                )
            )
            job_repository.requeue_many(session, stale)
        if stale:
            log.info("jobs.resent", count=len(stale))
            self.send(stale)
        return len(stale)

    def _reconcile_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.reconcile()
            except Exception as exc:  # database or broker down: try again next round
                log.warning("jobs.reconcile_failed", error=str(exc))

    def join(self) -> None:
        """Wait until every message sent so far is processed (in-process broker only)."""
        assert isinstance(self.broker, StubBroker)
        self.broker.join(QUEUE, fail_fast=True)
        if self.worker is not None:
            self.worker.join()

    def stop(self) -> None:
        self._stop.set()
        set_dispatcher(None)
        if self.worker is not None:
            self.worker.stop()
        self.broker.close()
