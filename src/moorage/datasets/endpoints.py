from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from moorage.datasets.schemas import DatasetCreate
from moorage.datasets.service import dataset_service
from moorage.deps import SessionDep, TeamDep
from moorage.kit.routing import api_router

router = api_router(tags=["datasets"])

#: dataset ids are 32-bit; anything larger is a 422, not a database overflow
DatasetId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/datasets")
def list_datasets(session: SessionDep, team: TeamDep) -> list[dict[str, Any]]:
    return dataset_service.list_all(session, team)


@router.post("/datasets")
def create_dataset(session: SessionDep, team: TeamDep, body: DatasetCreate) -> dict[str, Any]:
    dataset = dataset_service.create(session, team, name=body.name)
    return dataset_service.render_one(session, team, dataset)


@router.get("/datasets/{dataset_id}")
def get_dataset(session: SessionDep, team: TeamDep, dataset_id: DatasetId) -> dict[str, Any]:
    return dataset_service.render_one(session, team, dataset_service.get(session, team, dataset_id))


@router.put("/datasets/{dataset_id}/archive")
def archive_dataset(session: SessionDep, team: TeamDep, dataset_id: DatasetId) -> dict[str, Any]:
    dataset = dataset_service.archive(session, team, dataset_id)
    return dataset_service.render_one(session, team, dataset)
