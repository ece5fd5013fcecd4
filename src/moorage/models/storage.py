from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from moorage.models.base import Base, JSONType, utcnow


class StorageConfig(Base):
    """A team's connection to a bucket (or local folder). Secrets are encrypted at rest."""

    __tablename__ = "storages"
    __table_args__ = (UniqueConstraint("team_id", "slug", name="uq_storages_team_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(20))
    bucket: Mapped[str] = mapped_column(String(1024))
    prefix: Mapped[str] = mapped_column(String(1024), default="")
    readonly: Mapped[bool] = mapped_column(default=False)
    is_default: Mapped[bool] = mapped_column(default=False)
    region: Mapped[str | None] = mapped_column(String(100))
    endpoint_url: Mapped[str | None] = mapped_column(String(1024))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    credentials_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: set by the operator only (CLI): may this storage use the server's own cloud credentials?
    allow_ambient_credentials: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: set by the operator only (CLI): the storage that receives this team's uploads
    #: (``register_upload``); none set: the team's default storage
    receives_uploads: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: where the bucket's change events arrive: ``{"kind": "sqs", "queue_url", "region"}``
    events: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    #: read-only storage only: another storage of the team (read-write) where the workers
    #: write thumbnails, frames and slices, so the originals need no ``moorage prepare``
    derivatives_storage_id: Mapped[int | None] = mapped_column(
        ForeignKey("storages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def makes_derivatives(self) -> bool:
        """Do moorage's workers make this storage's derivatives (on registration, re-sync)?

        Read-write storage: yes, under its prefix. Read-only storage: only when it names a
        ``derivatives_storage``; otherwise the caller supplies them (``moorage prepare``).
        """
        return not self.readonly or self.derivatives_storage_id is not None
