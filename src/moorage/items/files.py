"""Which stored object a serving URL means: the original, the thumbnail or a section."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.errors import NotFound
from moorage.items.repository import item_repository
from moorage.items.serialize import shown_as_is
from moorage.items.service import find_item
from moorage.models import Team
from moorage.ops import metrics
from moorage.storage.base import StorageAdapter, StorageError
from moorage.storages.repository import storage_repository


@dataclass(frozen=True)
class FileTarget:
    adapter: StorageAdapter
    key: str
    file_name: str


def _missing(what: str) -> NotFound:
    return NotFound(f"This slot has no {what}.", field="slot")


def resolve_file(
    session: Session,
    team: Team,
    ctx: AppContext,
    *,
    item_id: str,
    slot_name: str,
    what: str,
    section: int | None = None,
) -> FileTarget:
    """``what``: ``file``, ``thumbnail``, ``hq`` or ``lq`` (the last two need ``section``)."""
    uid, item = find_item(session, team, item_id)
    slot = item_repository.slot_by_name(session, uid, slot_name)
    if slot is None:
        raise NotFound(f"Item has no slot {slot_name!r}.", field="slot_name")
    storage = (
        storage_repository.get_by_id(session, team.id, item["storage_id"])
        if item["storage_id"] is not None
        else None
    )
    if storage is None:
        raise NotFound("The storage of this item was removed.", field="storage")
    try:
        adapter = ctx.storages.adapter_for(session, storage)
    except StorageError as exc:
        metrics.storage_error(storage.provider, exc.reason)
        raise
    if what == "file":
        return FileTarget(adapter, slot.storage_key, slot.file_name)
    if what == "thumbnail":
        if not slot.storage_thumbnail_key:
            raise _missing("thumbnail yet")
        return FileTarget(adapter, slot.storage_thumbnail_key, "thumbnail.jpg")
    row = item_repository.section(session, slot.id, section)
    if row is None and section == 1 and shown_as_is(slot.kind, slot.total_sections):
        if what == "lq":
            raise _missing("lq frame: the image is shown as is, its hq is the original")
        return FileTarget(adapter, slot.storage_key, slot.file_name)
    if row is None:
        raise NotFound(f"Slot {slot_name!r} has no section {section}.", field="section")
    key = row.storage_hq_key if what == "hq" else row.storage_lq_key
    if not key:
        raise _missing(f"{what} frame for section {section}")
    return FileTarget(adapter, key, key.rsplit("/", 1)[-1])
