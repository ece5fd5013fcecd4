from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from moorage.models.base import Base, JSONType, new_uuid, utcnow


class Job(Base):
    """A processing job for one slot. The row, not the queue, is the truth of a job."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_updated", "status", "updated_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    #: the item's team (no foreign key: implied by the item's dataset; decision 0044)
    team_id: Mapped[int] = mapped_column(Integer)
    #: no foreign key: deleted with its item by the services that delete items (decision 0047)
    item_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    #: one of the item's slots (no foreign key: deleted with the item, through ``item_id``)
    slot_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(40), default="process_slot")
    #: queued | running | done | error
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
