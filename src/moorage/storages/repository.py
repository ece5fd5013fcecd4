from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session

from moorage.models import Dataset, Item, StorageConfig, SyncKey, Team


class StorageRepository:
    def list_all(self, session: Session, team: Team) -> Sequence[StorageConfig]:
        return session.scalars(
            select(StorageConfig).where(StorageConfig.team_id == team.id).order_by(StorageConfig.id)
        ).all()

    def get_by_slug(self, session: Session, team: Team, slug: str) -> StorageConfig | None:
        return session.scalars(
            select(StorageConfig).where(
                StorageConfig.team_id == team.id, StorageConfig.slug == slug
            )
        ).one_or_none()

    def find_for_registration(
        self, session: Session, team: Team, slug_or_name: str
    ) -> StorageConfig | None:
        """By slug, else by name: darwin-py sends the storage's *name* as ``storage_slug``."""
        rows = session.scalars(
            select(StorageConfig).where(
                StorageConfig.team_id == team.id,
                or_(StorageConfig.slug == slug_or_name, StorageConfig.name == slug_or_name),
            )
        ).all()
        for row in rows:
            if row.slug == slug_or_name:
                return row
        return rows[0] if rows else None

    def get_default(self, session: Session, team: Team) -> StorageConfig | None:
        return session.scalars(
            select(StorageConfig).where(
                StorageConfig.team_id == team.id, StorageConfig.is_default.is_(True)
            )
        ).first()

    def get_by_id(self, session: Session, team_id: int, storage_id: int) -> StorageConfig | None:
        return session.scalars(
            select(StorageConfig).where(
                StorageConfig.team_id == team_id, StorageConfig.id == storage_id
            )
        ).one_or_none()

    def clear_default(self, session: Session, team: Team) -> None:
        session.execute(
            update(StorageConfig).where(StorageConfig.team_id == team.id).values(is_default=False)
        )

    def naming_as_derivatives(self, session: Session, storage: StorageConfig) -> list[str]:
        """The slugs of the team's storages whose ``derivatives_storage`` is ``storage``."""
        return list(
            session.scalars(
                select(StorageConfig.slug).where(
                    StorageConfig.team_id == storage.team_id,
                    StorageConfig.derivatives_storage_id == storage.id,
                )
            ).all()
        )

    def in_use(self, session: Session, storage: StorageConfig) -> bool:
        return bool(session.scalar(select(exists().where(Item.storage_id == storage.id))))

    def forget_sync_keys(self, session: Session, storage: StorageConfig) -> None:
        """What the team's syncs saw of ``storage`` (no foreign key: decision 0047)."""
        datasets = select(Dataset.id).where(Dataset.team_id == storage.team_id)
        session.execute(
            delete(SyncKey).where(
                SyncKey.dataset_id.in_(datasets), SyncKey.storage_id == storage.id
            )
        )


storage_repository = StorageRepository()
