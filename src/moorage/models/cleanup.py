from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from moorage.models.base import Base, JSONType, new_uuid, utcnow


class Cleanup(Base):
    """Deleting what moorage wrote for items that were deleted (their derivatives, and the
    uploads it owns), written in the deleting transaction. Like ``Job``, the row is the truth;
    the queue only carries its id. No foreign key to the items or storages: they are gone."""

    __tablename__ = "cleanups"
    __table_args__ = (Index("ix_cleanups_status_updated", "status", "updated_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    #: ``[{"storage_id", "folders": [...], "keys": [...], "keep": [...]}]`` (worker/cleanup.py)
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    #: queued | running | done | error
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: objects deleted so far, and the last error (a retried outage, or why it stopped)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
