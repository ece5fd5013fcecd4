"""What the deletion of items leaves to clean in the storages (read before the rows go)."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from moorage.items.filters import ItemFilters
from moorage.items.repository import item_repository
from moorage.models import Item, Section, Slot, StorageConfig, Team, Upload
from moorage.worker.cleanup_plan import SlotFiles, StorageInfo, Target, originals_of, plan

__all__ = ["cleanup_targets"]

items_t = cast(Table, Item.__table__)
slots_t = cast(Table, Slot.__table__)
sections_t = cast(Table, Section.__table__)


def _section_keys(session: Session, slot_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    out: dict[uuid.UUID, list[str]] = {}
    for start in range(0, len(slot_ids), 500):
        rows = session.execute(
            select(
                sections_t.c.slot_id, sections_t.c.storage_hq_key, sections_t.c.storage_lq_key
            ).where(sections_t.c.slot_id.in_(slot_ids[start : start + 500]))
        )
        for slot_id, hq, lq in rows:
            out.setdefault(slot_id, []).extend(k for k in (hq, lq) if k)
    return out


def cleanup_targets(session: Session, team: Team, filters: ItemFilters) -> list[Target]:
    """The storages' objects moorage wrote for the items ``filters`` match (cleanup_plan)."""
    ids = item_repository.matching_ids(session, team, filters)
    rows = session.execute(
        select(
            slots_t.c.id,
            slots_t.c.item_id,
            items_t.c.storage_id,
            slots_t.c.derivatives_storage_id,
            slots_t.c.storage_key,
            slots_t.c.source_files,
            slots_t.c.storage_thumbnail_key,
        )
        .join(items_t, items_t.c.id == slots_t.c.item_id)
        .where(slots_t.c.item_id.in_(ids))
    ).all()
    sections = _section_keys(session, [r[0] for r in rows])
    slots = [
        SlotFiles(
            item_id=item_id,
            slot_id=slot_id,
            item_storage_id=storage_id,
            derivatives_storage_id=derivatives_id,
            originals=originals_of(key, source_files),
            derivative_keys=[k for k in (thumbnail, *sections.get(slot_id, [])) if k],
        )
        for slot_id, item_id, storage_id, derivatives_id, key, source_files, thumbnail in rows
    ]
    uploaded = _uploaded(session, team, ids)
    storage_ids = {s for slot in slots for s in (slot.item_storage_id, slot.derivatives_storage_id)}
    storage_ids |= {storage_id for storage_id, _ in uploaded}
    storages = {
        sid: StorageInfo(prefix=prefix or "", readonly=readonly)
        for sid, prefix, readonly in session.execute(
            select(StorageConfig.id, StorageConfig.prefix, StorageConfig.readonly).where(
                StorageConfig.team_id == team.id,
                StorageConfig.id.in_([s for s in storage_ids if s is not None]),
            )
        )
    }
    return plan(slots, storages, uploaded)


def _uploaded(session: Session, team: Team, item_ids: Any) -> list[tuple[int, str]]:
    """The files moorage wrote from uploads for these items (their rows go with the items)."""
    rows = session.execute(
        select(Upload.storage_id, Upload.storage_key).where(
            Upload.team_id == team.id, Upload.item_id.in_(item_ids)
        )
    )
    return [(storage_id, key) for storage_id, key in rows]
