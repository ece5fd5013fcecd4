"""The reconciler: the database row is the truth of a job; the queue only carries its id.

Every process that runs workers (``moorage serve`` embedded, every ``moorage worker``) runs it,
each round:

- a ``running`` job whose heartbeat is older than ``job_heartbeat_timeout_seconds`` lost its
  worker (kill -9, a lost machine): it goes back to ``queued`` and is sent again;
- a ``queued`` job lost its message when it was committed while the broker was away, or when a
  broker without persistence restarted. The broker says how many messages wait (ready and
  delayed); while that is at least the number of queued jobs, nothing is lost and nothing is
  re-sent, however long the backlog. When fewer wait, that many of the oldest jobs queued for
  over ``waiting_grace`` are sent again; any queued job waiting over ``QUEUED_MAX`` is sent
  again regardless (a net under the count).

Both steps are atomic UPDATEs re-checked per row, so any number of reconcilers may run at once:
each job is re-sent by one of them. A re-sent message carries the job's attempt number; the
claim takes the job only while that number is current, so the copies of a message never run
the job twice, even at the same moment on two machines.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import dramatiq
import structlog
from dramatiq.brokers.stub import StubBroker

from moorage.context import AppContext
from moorage.models.base import utcnow
from moorage.worker.repository import job_repository

__all__ = ["QUEUED_MAX", "Reconciler", "waiting_messages"]

log = structlog.get_logger(__name__)

#: a queued job waiting this long is sent again even when the broker's count looks healthy
QUEUED_MAX = timedelta(minutes=5)
#: a job queued this recently may still be on its way to the broker: never re-sent yet
WAITING_GRACE_MAX = timedelta(seconds=15)

Send = Callable[[list[tuple[uuid.UUID, int]]], None]


def waiting_messages(broker: dramatiq.Broker, queue: str) -> int | None:
    """Messages ready or delayed on ``queue`` (not those a worker holds); None if unknown."""
    delayed = f"{queue}.DQ"
    if isinstance(broker, StubBroker):
        queues = broker.queues
        return int(sum(queues[q].qsize() for q in (queue, delayed) if q in queues))
    counts = getattr(broker, "get_queue_message_counts", None)
    if counts is not None:  # RabbitMQ: ready messages on the queue and its delay queue
        ready, later, _dead = counts(queue)
        return int(ready) + int(later)
    client = getattr(broker, "client", None)
    namespace = getattr(broker, "namespace", None)
    if client is not None and namespace:  # Redis: the lists of ready message ids
        return int(client.llen(f"{namespace}:{queue}")) + int(client.llen(f"{namespace}:{delayed}"))
    return None


class Reconciler:
    def __init__(self, ctx: AppContext, broker: dramatiq.Broker, queue: str, send: Send) -> None:
        self.ctx = ctx
        self.broker = broker
        self.queue = queue
        self.send = send

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self.ctx.settings.job_heartbeat_timeout_seconds)

    @property
    def waiting_grace(self) -> timedelta:
        return min(WAITING_GRACE_MAX, self.timeout / 3)

    def run(self, *, all_queued: bool = False, limit: int = 5000) -> int:
        """One round. ``all_queued``: the queue is known empty (an in-process broker that just
        started), so every queued job is sent again. Returns how many were sent."""
        now = utcnow()
        with self.ctx.db.session() as session:
            silent = job_repository.take_back_silent(
                session, silent_since=now - self.timeout, limit=limit
            )
        if silent:
            log.warning("jobs.taken_back", count=len(silent), reason="heartbeat stopped")
            self.send(silent)
        lost = self._lost(limit) if not all_queued else limit
        with self.ctx.db.session() as session:
            before = now if all_queued else now - self.waiting_grace
            waiting = job_repository.touch_waiting(session, before=before, limit=lost)
            if not waiting:
                waiting = job_repository.touch_waiting(
                    session, before=now - QUEUED_MAX, limit=limit
                )
        if waiting:
            log.info("jobs.resent", count=len(waiting), reason="message lost")
            self.send(waiting)
        return len(silent) + len(waiting)

    def _lost(self, limit: int) -> int:
        """How many queued jobs have no message waiting for them, at least."""
        waiting = waiting_messages(self.broker, self.queue)
        with self.ctx.db.session() as session:
            queued = job_repository.count_queued(session)
        if waiting is None:  # a broker that cannot count: only QUEUED_MAX applies
            return 0
        return min(limit, max(0, queued - waiting))
