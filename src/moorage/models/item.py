from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from moorage.models.base import Base, BigIntPK, JSONType, new_uuid, utcnow


class Item(Base):
    """A dataset item. ``seq`` orders items by insertion and backs keyset pagination."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("dataset_id", "path", "name", name="uq_items_dataset_path_name"),
        Index("ix_items_dataset_seq", "dataset_id", "seq"),
        Index("ix_items_team_seq", "team_id", "seq"),
        Index("ix_items_dataset_name", "dataset_id", "name", "seq"),
        Index("ix_items_dataset_updated", "dataset_id", "updated_at", "seq"),
        Index("ix_items_dataset_priority", "dataset_id", "priority", "seq"),
        Index("ix_items_dataset_size", "dataset_id", "size_bytes", "seq"),
        # only the items a sync found gone: "present" is every other item, in seq order
        Index(
            "ix_items_dataset_source_status",
            "dataset_id",
            "source_status",
            "seq",
            postgresql_where=text("source_status IS NOT NULL"),
            sqlite_where=text("source_status IS NOT NULL"),
        ),
    )

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=new_uuid)
    #: the dataset's team, for team-wide listings (no foreign key: implied by the dataset's)
    team_id: Mapped[int] = mapped_column(Integer)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    storage_id: Mapped[int | None] = mapped_column(ForeignKey("storages.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(1024))
    path: Mapped[str] = mapped_column(String(1024), default="/")
    status: Mapped[str] = mapped_column(String(20), default="new")
    processing_status: Mapped[str] = mapped_column(String(20), default="complete")
    processing_error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    archived: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    #: type of the first slot, for per-type counts without a join
    primary_type: Mapped[str] = mapped_column(String(20), default="image")
    layout: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``missing`` once a sync found its file gone from the storage; None while it is there
    source_status: Mapped[str | None] = mapped_column(String(20))
    inserted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Slot(Base):
    __tablename__ = "slots"
    __table_args__ = (UniqueConstraint("item_id", "slot_name", name="uq_slots_item_slot_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    #: found through uq_slots_item_slot_name, whose first column it is
    item_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("items.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    slot_name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    #: what the media layer treats it as: image, video, pdf, dicom, nifti
    kind: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(1024))
    storage_key: Mapped[str] = mapped_column(Text)
    storage_thumbnail_key: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    #: requested sampling rate; ``None`` means native
    fps: Mapped[float | None] = mapped_column(Float)
    as_frames: Mapped[bool] = mapped_column(default=False)
    extract_views: Mapped[bool] = mapped_column(default=False)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    total_sections: Mapped[int] = mapped_column(Integer, default=0)
    #: where the worker wrote this slot's derivatives when not in the item's own storage (a
    #: read-only storage's ``derivatives_storage``); ``None``: the item's storage holds them.
    #: No foreign key: it would make every storage delete scan this table (see the decision)
    derivatives_storage_id: Mapped[int | None] = mapped_column(Integer)
    #: the files of a series held in this slot, in order: ``[{"storage_key", "file_name"}]``,
    #: written once at registration (``None``: the slot's one file, ``storage_key``)
    source_files: Mapped[list[dict[str, str]] | None] = mapped_column(JSONType)


class Section(Base):
    """A section of a slot: a frame, page or slice that was made (or supplied) for viewing.

    Only outputs: the source files of a series live in ``Slot.source_files``."""

    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("slot_id", "section_index", name="uq_sections_slot_index"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    slot_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("slots.id", ondelete="CASCADE"))
    section_index: Mapped[int] = mapped_column(Integer)
    storage_hq_key: Mapped[str | None] = mapped_column(Text)
    storage_lq_key: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)


class ItemTag(Base):
    __tablename__ = "item_tags"

    item_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
