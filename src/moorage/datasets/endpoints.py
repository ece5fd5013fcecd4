from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from moorage.datasets.service import dataset_service
from moorage.deps import SessionDep, TeamDep

router = APIRouter(tags=["datasets"])


@router.get("/datasets")
def list_datasets(session: SessionDep, team: TeamDep) -> list[dict[str, Any]]:
    return dataset_service.list_all(session, team)


@router.post("/datasets")
def create_dataset(
    session: SessionDep, team: TeamDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    dataset = dataset_service.create(session, team, name=body.get("name"))
    return dataset_service.render_one(session, team, dataset)


@router.get("/datasets/{dataset_id}")
def get_dataset(session: SessionDep, team: TeamDep, dataset_id: int) -> dict[str, Any]:
    return dataset_service.render_one(session, team, dataset_service.get(session, team, dataset_id))


@router.put("/datasets/{dataset_id}/archive")
def archive_dataset(session: SessionDep, team: TeamDep, dataset_id: int) -> dict[str, Any]:
    dataset = dataset_service.archive(session, team, dataset_id)
    return dataset_service.render_one(session, team, dataset)
