"""Syncs: a storage prefix kept in step with a dataset. The row is the truth of a sync."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from moorage.models.base import Base, JSONType, utcnow

#: keys compare byte for byte on both engines (PostgreSQL's default collation would not), so a
#: range of keys in the table is the same range a bucket listing walks
KeyType = Text().with_variant(Text(collation="C"), "postgresql")


class Sync(Base):
    """One sync of a dataset from a storage prefix.

    ``attempts`` is the lease token: a run claims the row by bumping it, and every checkpoint it
    writes is guarded by it, so a run taken for dead never writes over the run that replaced it.
    """

    __tablename__ = "syncs"
    __table_args__ = (
        Index("ix_syncs_team_created", "team_id", "created_at"),
        Index("ix_syncs_state_heartbeat", "state", "heartbeat_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    storage_id: Mapped[int] = mapped_column(ForeignKey("storages.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(1024), default="")
    #: the request's options: include, exclude, preserve_folders, path, group, on_missing, ...
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: queued | running | watching | complete | failed | cancelled
    state: Mapped[str] = mapped_column(String(20), default="queued")
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    blocked: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    #: the listing checkpoint of the pass under way (None: from the start)
    cursor: Mapped[str | None] = mapped_column(KeyType)
    #: the last key a page of this pass reached (the lower bound of the next range compared)
    last_key: Mapped[str | None] = mapped_column(KeyType)
    passes: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: a run holds the sync (its heartbeat is ``heartbeat_at``)
    held: Mapped[bool] = mapped_column(default=False)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_run_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class SyncKey(Base):
    """What a sync last saw of one key of a storage, for one dataset.

    No foreign keys (decision 0047): deleting a storage deletes its keys, deleting an item
    clears ``item_id``, both in the deleting service's transaction."""

    __tablename__ = "sync_keys"
    __table_args__ = (Index("ix_sync_keys_item_id", "item_id"),)

    dataset_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    storage_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(KeyType, primary_key=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[datetime | None] = mapped_column()
    item_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: present | missing | blocked
    state: Mapped[str] = mapped_column(String(20), default="present")
    reason: Mapped[str | None] = mapped_column(String(100))
