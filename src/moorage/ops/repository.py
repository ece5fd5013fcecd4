"""The queries behind readiness and the job gauges."""

from __future__ import annotations

from datetime import datetime

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, func, select, text

from moorage.models import Job

#: the states whose rows stay few; ``done`` and ``error`` grow with every slot ever processed,
#: so they are counted by the workers as they happen (moorage_processing_seconds_count)
LIVE_STATES = ("queued", "running")


class OpsRepository:
    def ping(self, conn: Connection) -> None:
        conn.execute(text("SELECT 1"))

    def current_revisions(self, conn: Connection) -> set[str]:
        return set(MigrationContext.configure(conn).get_current_heads())

    def live_job_counts(self, conn: Connection) -> dict[str, int]:
        rows = conn.execute(
            select(Job.status, func.count()).where(Job.status.in_(LIVE_STATES)).group_by(Job.status)
        )
        counts = dict.fromkeys(LIVE_STATES, 0)
        counts.update({str(s): int(n) for s, n in rows})
        return counts

    def oldest_queued(self, conn: Connection) -> datetime | None:
        return conn.execute(
            select(func.min(Job.updated_at)).where(Job.status == "queued")
        ).scalar_one_or_none()


ops_repository = OpsRepository()
