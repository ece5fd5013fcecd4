"""What register_upload writes and answers: the upload checks beyond a registration's, the
rows (``uploading``, no jobs yet), the upload rows, and the Darwin response with ``upload_id``s."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from moorage.config import Settings
from moorage.models import StorageConfig, Team
from moorage.registration.model import Blocked, ItemIn, RegistrationResult
from moorage.registration.render import response_json
from moorage.registration.rows import RegistrationRows, build_rows
from moorage.uploads.payload import Prepared
from moorage.uploads.schemas import UploadRequest

__all__ = ["UPLOADING", "check_uploads", "item_rows", "response", "upload_rows"]

UPLOADING = "uploading"


def _size_problem(value: Any, limit: int) -> Blocked | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return Blocked(
            "INVALID_FIELD", "size_bytes must be a non-negative integer.", field="size_bytes"
        )
    if value > limit:
        return Blocked(
            "UPLOAD_TOO_LARGE",
            f"The file announces {value} bytes; this server takes at most {limit} "
            "(MOORAGE_MAX_UPLOAD_BYTES).",
            field="size_bytes",
        )
    return None


def check_uploads(items: list[ItemIn], prepared: list[Prepared], limit: int) -> None:
    """What an upload needs beyond a registration's checks: a type known from the name (the
    bytes are not here yet), one file a slot, an announced size within the limit."""
    for item, prep in zip(items, prepared, strict=True):
        for slot in item.slots:
            if slot.error is not None:
                continue
            if slot.entries > 1:
                slot.error = Blocked(
                    "INVALID_SLOTS",
                    f"Slot {slot.slot_name!r} is named more than once; an uploaded slot "
                    "holds one file (zip a DICOM series into one .dcm).",
                    field="slot_name",
                )
            elif slot.kind is None:
                slot.error = Blocked(
                    "UNSUPPORTED_TYPE",
                    f"The type of {slot.file_name!r} is not known from its name; give type "
                    "(image, video, pdf, dicom).",
                    field="type",
                )
            else:
                slot.error = _size_problem(prep.announced.get(slot.storage_key), limit)


def item_rows(
    items: list[ItemIn],
    team: Team,
    dataset_id: int,
    storage: StorageConfig,
    payload: UploadRequest,
    now: datetime,
) -> RegistrationRows:
    """A read-write registration's rows, ``uploading``, without jobs: those come with the
    last confirm (a job started earlier would find no file)."""
    rows = build_rows(
        items,
        team_id=team.id,
        dataset_id=dataset_id,
        storage_id=storage.id,
        readonly=False,
        options=dict(payload.options or {}),
        now=now,
    )
    items_bulk = replace(
        rows.items,
        constants={**rows.items.constants, "status": UPLOADING, "processing_status": UPLOADING},
    )
    return replace(rows, items=items_bulk, jobs=replace(rows.jobs, rows=[]))


def upload_rows(
    items: list[ItemIn],
    prepared: list[Prepared],
    team: Team,
    storage: StorageConfig,
    now: datetime,
    settings: Settings,
) -> list[dict[str, Any]]:
    expires = now + timedelta(seconds=settings.upload_expiry_seconds)
    out = []
    for item in items:
        prep = prepared[item.index]
        for slot in item.slots:
            announced = prep.announced.get(slot.storage_key)
            out.append(
                {
                    "id": prep.uploads[slot.storage_key],
                    "team_id": team.id,
                    "item_id": item.id,
                    "slot_id": slot.id,
                    "storage_id": storage.id,
                    "storage_key": slot.storage_key,
                    "max_bytes": settings.max_upload_bytes if announced is None else announced,
                    "received_bytes": None,
                    "status": "pending",
                    "expires_at": expires,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return out


def response(result: RegistrationResult, upload_of: dict[uuid.UUID, uuid.UUID]) -> dict[str, Any]:
    body = response_json(result)
    by_slot = {str(k): str(v) for k, v in upload_of.items()}
    for item in body["items"]:
        item["status"] = item["processing_status"] = UPLOADING
        for slot in item["slots"]:
            slot["upload_id"] = by_slot[slot["id"]]
    return body
