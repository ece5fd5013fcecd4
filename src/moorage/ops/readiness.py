"""What /readyz checks and what /metrics reads from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import structlog
from alembic.script import ScriptDirectory
from prometheus_client.core import Metric

from moorage.context import AppContext
from moorage.db import alembic_config
from moorage.models.base import utcnow
from moorage.ops.broker import broker_depth, ping_broker
from moorage.ops.metrics import gauge
from moorage.ops.repository import ops_repository

__all__ = ["JobsCollector", "readiness"]

log = structlog.get_logger(__name__)
#: the dramatiq queue the jobs go to (moorage.worker.runtime.QUEUE)
QUEUE = "moorage"


@lru_cache(maxsize=1)
def _head_revisions() -> frozenset[str]:
    from sqlalchemy import create_engine

    # the script directory needs no database; an unused engine only carries the config
    engine = create_engine("sqlite://")
    return frozenset(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def readiness(ctx: AppContext) -> dict[str, str]:
    """Each check's outcome: ``ok``, ``skipped`` or why it failed (no addresses, no secrets)."""
    checks: dict[str, str] = {}
    try:
        with ctx.db.engine.connect() as conn:
            ops_repository.ping(conn)
            checks["database"] = "ok"
            current = ops_repository.current_revisions(conn)
    except Exception as exc:
        log.warning("readiness.database_failed", error=type(exc).__name__)
        checks["database"] = "unreachable"
        checks["migrations"] = "unknown"
    else:
        heads = _head_revisions()
        checks["migrations"] = (
            "ok" if current == heads else f"at {sorted(current) or 'none'}, head is {sorted(heads)}"
        )
    url = ctx.settings.broker_url
    if not url:
        checks["broker"] = "skipped"
    else:
        try:
            ping_broker(url)
            checks["broker"] = "ok"
        except Exception as exc:
            log.warning("readiness.broker_failed", error=type(exc).__name__)
            checks["broker"] = "unreachable"
    return checks


class JobsCollector:
    """Job gauges read from the database (the truth of a job) and the broker at scrape."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        try:
            with self.ctx.db.engine.connect() as conn:
                counts = ops_repository.live_job_counts(conn)
                oldest = ops_repository.oldest_queued(conn)
        except Exception as exc:
            log.warning("metrics.jobs_failed", error=type(exc).__name__)
            return
        yield gauge(
            "moorage_jobs", "Jobs by state (queued, running).", ["state"], iter(counts.items())
        )
        depth = [("database", counts["queued"])]
        if self.ctx.settings.broker_url:
            try:
                broker = broker_depth(self.ctx.settings.broker_url, QUEUE)
            except Exception as exc:
                log.warning("metrics.broker_depth_failed", error=type(exc).__name__)
            else:
                if broker is not None:
                    depth.append(("broker", broker))
        yield gauge(
            "moorage_queue_depth",
            "Jobs waiting: queued rows in the database, messages in the broker's queue.",
            ["source"],
            iter(depth),
        )
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # SQLite hands back naive UTC
                oldest = oldest.replace(tzinfo=utcnow().tzinfo)
            age = max(0.0, (utcnow() - oldest).total_seconds())
        yield gauge(
            "moorage_oldest_queued_job_seconds",
            "Age of the oldest queued job (0 when none).",
            [],
            iter([(age,)]),
        )
