from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from moorage.datasets.repository import dataset_repository
from moorage.errors import NotFound, ValidationFailed
from moorage.kit.text import slugify
from moorage.kit.timestamps import rfc3339
from moorage.models import Dataset, Team


class DatasetService:
    def list_all(self, session: Session, team: Team) -> list[dict[str, Any]]:
        datasets = dataset_repository.list_all(session, team, include_archived=False)
        return self._render(session, team, datasets)

    def get(self, session: Session, team: Team, dataset_id: int) -> Dataset:
        dataset = dataset_repository.get(session, team, dataset_id)
        if dataset is None:
            raise NotFound(f"Dataset {dataset_id} does not exist.", field="dataset_id")
        return dataset

    def get_by_slug(self, session: Session, team: Team, slug: str) -> Dataset:
        dataset = dataset_repository.get_by_slug(session, team, slug)
        if dataset is None:
            raise NotFound(
                f"Dataset {slug!r} does not exist in team {team.slug!r}.", field="dataset_slug"
            )
        return dataset

    def render_one(self, session: Session, team: Team, dataset: Dataset) -> dict[str, Any]:
        return self._render(session, team, [dataset])[0]

    def create(self, session: Session, team: Team, *, name: Any) -> Dataset:
        if not isinstance(name, str) or not name.strip():
            raise ValidationFailed("can't be blank", field="name")
        name = name.strip()
        slug = slugify(name)
        if not slug:
            raise ValidationFailed("must contain a letter or a digit", field="name")
        if dataset_repository.get_by_slug(session, team, slug) is not None:
            raise ValidationFailed("has already been taken", field="name")
        dataset = Dataset(team_id=team.id, name=name, slug=slug)
        session.add(dataset)
        session.flush()
        return dataset

    def archive(self, session: Session, team: Team, dataset_id: int) -> Dataset:
        dataset = self.get(session, team, dataset_id)
        dataset.archived = True
        session.flush()
        return dataset

    def _render(
        self, session: Session, team: Team, datasets: Sequence[Dataset]
    ) -> list[dict[str, Any]]:
        counts = dataset_repository.counts(session, [d.id for d in datasets])
        out = []
        for d in datasets:
            by_type = counts.get(d.id, {})
            out.append(
                {
                    "id": d.id,
                    "name": d.name,
                    "slug": d.slug,
                    "team_id": team.id,
                    "team_slug": team.slug,
                    "archived": d.archived,
                    "progress": 0.0,
                    "num_items": sum(by_type.values()),
                    "num_images": by_type.get("image", 0),
                    "num_videos": by_type.get("video", 0),
                    "num_pdfs": by_type.get("pdf", 0),
                    "num_dicoms": by_type.get("dicom", 0),
                    "inserted_at": rfc3339(d.created_at),
                    "updated_at": rfc3339(d.updated_at),
                }
            )
        return out


dataset_service = DatasetService()
