"""Releases (Darwin "exports"): a frozen list of a dataset's items, zipped as Darwin JSON 2.0."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from moorage.models.base import Base, JSONType, utcnow


class Release(Base):
    """One release of a dataset. The row is the truth of its zip's build.

    ``max_seq`` freezes the item set: the release holds the dataset's items with ``seq`` up to
    it (those registered before the export), whatever is added while the zip is built.
    ``attempts`` is the lease token of the build, as for syncs. ``token_salt`` with the server's
    secret makes the release's capability token (``releases/tokens.py``); nothing secret is
    stored, and deleting the row revokes every URL of the release.
    """

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name", name="uq_releases_dataset_name"),
        UniqueConstraint("dataset_id", "version", name="uq_releases_dataset_version"),
        Index("ix_releases_status_heartbeat", "status", "heartbeat_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    #: 1, 2, ... within the dataset
    version: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(20), default="darwin_json_2")
    #: pending | complete | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    include_authorship: Mapped[bool] = mapped_column(default=False)
    include_export_token: Mapped[bool] = mapped_column(default=False)
    token_salt: Mapped[str] = mapped_column(String(64))
    #: the base of the URLs written into the zip (the request's, or MOORAGE_PUBLIC_URL)
    base_url: Mapped[str] = mapped_column(String(1024))
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    image_count: Mapped[int] = mapped_column(Integer, default=0)
    zip_bytes: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[bool] = mapped_column(default=False)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
