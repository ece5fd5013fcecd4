"""register_existing: validate every item and slot, check the storage, write what passes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.datasets.service import dataset_service
from moorage.errors import PayloadTooLarge, ValidationFailed
from moorage.items.serialize import item_json
from moorage.models import Team
from moorage.models.base import utcnow
from moorage.ops import metrics
from moorage.registration.checks import (
    check_key_syntax,
    check_keys_exist,
    check_readonly_fields,
    resolve_unknown_types,
)
from moorage.registration.model import Blocked, ItemIn, SlotIn
from moorage.registration.normalize import normalize_item
from moorage.registration.repository import registration_repository
from moorage.registration.schemas import RegisterRequest
from moorage.registration.types import has_extension
from moorage.storage.base import StorageError
from moorage.storages.service import storage_service
from moorage.worker.dispatch import send_after_commit

log = structlog.get_logger(__name__)


def _folder_and_ancestors(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


class RegistrationService:
    def register(
        self,
        session: Session,
        team: Team,
        *,
        payload: RegisterRequest,
        ctx: AppContext,
        base_url: str,
        force_readonly: bool = False,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        limit = ctx.settings.max_items_per_request
        if len(payload.items) > limit:
            raise PayloadTooLarge(
                f"A request may register at most {limit} items; this one has "
                f"{len(payload.items)}. Split it into several requests.",
                field="items",
            )
        dataset = dataset_service.get_by_slug(session, team, payload.dataset_slug)
        storage = storage_service.for_registration(session, team, payload.storage_slug)
        try:
            adapter = ctx.storages.adapter_for(session, storage)
        except StorageError as exc:
            raise ValidationFailed(
                f"Storage {storage.slug!r} cannot be used: {exc.message}", field="storage_slug"
            ) from None
        readonly = storage.readonly or force_readonly
        options = dict(payload.options or {})

        items = [normalize_item(i, raw) for i, raw in enumerate(payload.items)]
        self._check_types_and_fields(items, readonly=readonly)
        check_key_syntax(items)
        self._block_duplicates(session, dataset.id, items)
        resolve_unknown_types(items, adapter)
        check_keys_exist(items, adapter)

        accepted = [i for i in items if not i.blocked]
        common: dict[str, Any] = {
            "team": team,
            "dataset_id": dataset.id,
            "storage_id": storage.id,
            "readonly": readonly,
            "options": options,
        }
        heads = self._build_rows(accepted, items_only=True, **common)
        inserted = registration_repository.insert_items(session, heads["items"])
        for item in accepted:
            if item.id not in inserted:
                item.block("ALREADY_EXISTS", self._exists_message(item))
        rows = self._build_rows([i for i in accepted if i.id in inserted], **common)
        registration_repository.insert_children(
            session,
            slots=rows["slots"],
            sections=rows["sections"],
            tags=rows["tags"],
            jobs=rows["jobs"],
        )
        registration_repository.insert_folders(
            session,
            dataset.id,
            {p for r in rows["items"] for p in _folder_and_ancestors(r["path"])},
        )
        session.flush()
        send_after_commit(session, [j["id"] for j in rows["jobs"]])

        slots_by_item: dict[Any, list[dict[str, Any]]] = {}
        for s in rows["slots"]:
            slots_by_item.setdefault(s["item_id"], []).append(s)
        registered = [
            item_json(
                r,
                slots_by_item.get(r["id"], []),
                tags=tags,
                base_url=base_url,
                team_slug=team.slug,
            )
            for r, tags in zip(rows["items"], rows["item_tags"], strict=True)
        ]
        blocked = [i.blocked_json() for i in items if i.blocked]
        metrics.record_registration(
            provider=storage.provider,
            readonly=readonly,
            registered=len(registered),
            blocked=blocked,
        )
        log.info(
            "registration.completed",
            team=team.slug,
            dataset=dataset.slug,
            storage=storage.slug,
            registered=len(registered),
            blocked=len(blocked),
            readonly=readonly,
            seconds=round(time.perf_counter() - started, 3),
        )
        return {"items": registered, "blocked_items": blocked}

    @staticmethod
    def _exists_message(item: ItemIn) -> str:
        return f"An item named {item.name!r} already exists at path {item.path!r} in this dataset."

    def _check_types_and_fields(self, items: Sequence[ItemIn], *, readonly: bool) -> None:
        for item in items:
            if item.blocked:
                continue
            for slot in item.slots:
                if slot.error is not None:
                    continue
                if slot.kind is None and has_extension(slot.file_name):
                    slot.error = Blocked(
                        "UNSUPPORTED_TYPE",
                        f"{slot.file_name!r} has an extension moorage does not know; give type "
                        "(image, video, pdf, dicom).",
                        field="type",
                    )
                elif readonly and slot.kind is not None:
                    try:
                        check_readonly_fields(slot)
                    except Blocked as exc:
                        slot.error = exc

    def _block_duplicates(self, session: Session, dataset_id: int, items: Sequence[ItemIn]) -> None:
        seen: set[tuple[str, str]] = set()
        candidates: list[ItemIn] = []
        for item in items:
            if item.blocked or item.name is None:
                continue
            key = (item.path, item.name)
            if key in seen:
                item.block(
                    "ALREADY_EXISTS",
                    f"The item {item.name!r} at path {item.path!r} appears twice in this request.",
                )
                continue
            seen.add(key)
            candidates.append(item)
        existing = registration_repository.existing_names(
            session, dataset_id, [(i.path, i.name) for i in candidates if i.name is not None]
        )
        for item in candidates:
            if (item.path, item.name) in existing:
                item.block("ALREADY_EXISTS", self._exists_message(item))

    def _build_rows(
        self,
        items: Sequence[ItemIn],
        *,
        team: Team,
        dataset_id: int,
        storage_id: int,
        readonly: bool,
        options: dict[str, Any],
        items_only: bool = False,
    ) -> dict[str, list[Any]]:
        now = utcnow()
        status = "new" if readonly else "processing"
        processing = "complete" if readonly else "processing"
        out: dict[str, list[Any]] = {
            "items": [],
            "item_tags": [],
            "slots": [],
            "sections": [],
            "tags": [],
            "jobs": [],
        }
        for item in items:
            sizes = [s.size_bytes for s in item.slots if s.size_bytes is not None]
            out["items"].append(
                {
                    "id": item.id,
                    "team_id": team.id,
                    "dataset_id": dataset_id,
                    "storage_id": storage_id,
                    "name": item.name,
                    "path": item.path,
                    "status": status,
                    "processing_status": processing,
                    "processing_error": None,
                    "archived": False,
                    "priority": item.priority,
                    "size_bytes": sum(sizes) if sizes else None,
                    "primary_type": item.slots[0].type,
                    "layout": item.layout,
                    "options": options,
                    "inserted_at": now,
                    "updated_at": now,
                }
            )
            out["item_tags"].append(item.tags)
            if items_only:
                continue
            out["tags"].extend(
                {"item_id": item.id, "name": k, "value": v} for k, v in item.tags.items()
            )
            for position, slot in enumerate(item.slots):
                out["slots"].append(self._slot_row(item, slot, position, readonly=readonly))
                out["sections"].extend(
                    {
                        "slot_id": slot.id,
                        "section_index": s.index,
                        "storage_key": s.storage_key,
                        "file_name": s.file_name,
                        "storage_hq_key": s.hq_key,
                        "storage_lq_key": s.lq_key,
                        "width": s.width,
                        "height": s.height,
                    }
                    for s in slot.sections
                )
                if not readonly:
                    out["jobs"].append(
                        {
                            "id": uuid.uuid4(),
                            "team_id": team.id,
                            "item_id": item.id,
                            "slot_id": slot.id,
                            "kind": "process_slot",
                            "status": "queued",
                            "attempts": 0,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
        return out

    @staticmethod
    def _slot_row(item: ItemIn, slot: SlotIn, position: int, *, readonly: bool) -> dict[str, Any]:
        meta = dict(slot.metadata)
        width = slot.width or (slot.sections[0].width if slot.sections else None)
        height = slot.height or (slot.sections[0].height if slot.sections else None)
        if width is not None:
            meta["width"], meta["height"] = width, height
        if slot.kind == "nifti":
            meta["medical_format"] = "nifti"
        if slot.entries > 1:
            meta["series_files"] = slot.entries
        total = len(slot.sections) or (1 if slot.kind == "image" and readonly else 0)
        return {
            "id": slot.id,
            "item_id": item.id,
            "position": position,
            "slot_name": slot.slot_name,
            "type": slot.type,
            "kind": slot.kind,
            "file_name": slot.file_name,
            "storage_key": slot.storage_key,
            "storage_thumbnail_key": slot.thumbnail_key,
            "size_bytes": slot.size_bytes,
            "fps": slot.fps,
            "as_frames": slot.as_frames,
            "extract_views": slot.extract_views,
            "metadata": meta,
            "total_sections": total,
        }


registration_service = RegistrationService()
