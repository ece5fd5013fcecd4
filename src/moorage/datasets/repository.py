from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moorage.models import Dataset, Folder, Item, Team


class DatasetRepository:
    def list_all(
        self, session: Session, team: Team, *, include_archived: bool
    ) -> Sequence[Dataset]:
        stmt = select(Dataset).where(Dataset.team_id == team.id).order_by(Dataset.id)
        if not include_archived:
            stmt = stmt.where(Dataset.archived.is_(False))
        return session.scalars(stmt).all()

    def get(self, session: Session, team: Team, dataset_id: int) -> Dataset | None:
        return session.scalars(
            select(Dataset).where(Dataset.team_id == team.id, Dataset.id == dataset_id)
        ).one_or_none()

    def get_by_slug(self, session: Session, team: Team, slug: str) -> Dataset | None:
        return session.scalars(
            select(Dataset).where(Dataset.team_id == team.id, Dataset.slug == slug)
        ).one_or_none()

    def ids_of_team(self, session: Session, team: Team, ids: Sequence[int]) -> list[int]:
        return list(
            session.scalars(
                select(Dataset.id).where(Dataset.team_id == team.id, Dataset.id.in_(ids))
            )
        )

    def counts(self, session: Session, dataset_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Items per dataset and per primary type, in one grouped query."""
        rows = session.execute(
            select(Item.dataset_id, Item.primary_type, func.count())
            .where(Item.dataset_id.in_(dataset_ids))
            .group_by(Item.dataset_id, Item.primary_type)
        ).all()
        out: dict[int, dict[str, int]] = {}
        for dataset_id, primary_type, n in rows:
            out.setdefault(dataset_id, {})[primary_type] = n
        return out

    def folder_paths(self, session: Session, dataset_id: int, *, limit: int) -> list[str]:
        """The dataset's folders by path, without counting their items (a quick read)."""
        return list(
            session.scalars(
                select(Folder.path)
                .where(Folder.dataset_id == dataset_id)
                .order_by(Folder.path)
                .limit(limit)
            )
        )

    def processing_counts(
        self, session: Session, dataset_ids: Sequence[int]
    ) -> dict[int, dict[str, int]]:
        """Items per dataset and processing status (processing, complete, error)."""
        rows = session.execute(
            select(Item.dataset_id, Item.processing_status, func.count())
            .where(Item.dataset_id.in_(dataset_ids), Item.archived.is_(False))
            .group_by(Item.dataset_id, Item.processing_status)
        ).all()
        out: dict[int, dict[str, int]] = {}
        for dataset_id, status, n in rows:
            out.setdefault(dataset_id, {})[status] = n
        return out


dataset_repository = DatasetRepository()
