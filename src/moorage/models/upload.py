from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from moorage.models.base import Base, utcnow


class Upload(Base):
    """One file a client sends for one slot (``register_upload``), until it is confirmed.

    ``status``: ``pending`` (registered, no bytes yet), ``received`` (moorage wrote the bytes
    from a PUT to its capability URL), ``confirmed`` (the client confirmed; the item's jobs were
    made once every slot was). An unconfirmed upload past ``expires_at`` is cleaned: its item and
    any bytes are deleted.
    """

    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_status_expires", "status", "expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("items.id", ondelete="CASCADE"), index=True
    )
    #: one of the item's slots (no foreign key: deleted with the item, through ``item_id``)
    slot_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    storage_id: Mapped[int] = mapped_column(ForeignKey("storages.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(Text)
    #: the most bytes a PUT may carry: the announced ``size_bytes``, else the server's limit
    max_bytes: Mapped[int] = mapped_column(BigInteger)
    received_bytes: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
