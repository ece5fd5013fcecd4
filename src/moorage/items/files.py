"""Which stored object a serving URL means, and how it is delivered.

``resolve_file`` finds the object (the original, the thumbnail or a section); ``deliver`` says
how the client gets it: a redirect to a signed URL, a file on this server's disk, or a stream.
The endpoint renders the delivery; it never looks at the storage's class.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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


@dataclass(frozen=True)
class Redirect:
    url: str


@dataclass(frozen=True)
class LocalFile:
    path: Path
    file_name: str


@dataclass(frozen=True)
class Stream:
    stream: BinaryIO
    media_type: str


Delivery = Redirect | LocalFile | Stream


def deliver(target: FileTarget, *, expires_in: int) -> Delivery:
    """A local file as is; else a URL signed for ``expires_in`` seconds; else a stream."""
    try:
        return _delivery(target, expires_in)
    except StorageError as exc:
        metrics.storage_error(target.adapter.provider, exc.reason)
        raise


def _delivery(target: FileTarget, expires_in: int) -> Delivery:
    path = target.adapter.local_path(target.key)
    if path is not None:
        return LocalFile(path, target.file_name)
    signed = target.adapter.sign_url(target.key, expires_in=expires_in)
    if signed is not None:
        return Redirect(signed)
    media_type = mimetypes.guess_type(target.file_name)[0] or "application/octet-stream"
    return Stream(target.adapter.open_read(target.key), media_type)


def _missing(what: str) -> NotFound:
    return NotFound(f"This slot has no {what}.", field="slot")


def _adapter(
    session: Session, team: Team, ctx: AppContext, storage_id: int | None, what: str
) -> StorageAdapter:
    """The adapter of the team's storage ``storage_id`` (another team's is as good as gone)."""
    storage = (
        storage_repository.get_by_id(session, team.id, storage_id)
        if storage_id is not None
        else None
    )
    if storage is None:
        raise NotFound(f"The {what} was removed.", field="storage")
    try:
        return ctx.storages.adapter_for(session, storage)
    except StorageError as exc:
        metrics.storage_error(storage.provider, exc.reason)
        raise


#: for the other serving modules (playlists): the same lookup, the same 404
storage_adapter = _adapter


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
    if what == "file":
        adapter = _adapter(session, team, ctx, item["storage_id"], "storage of this item")
        return FileTarget(adapter, slot.storage_key, slot.file_name)
    # derivatives the worker wrote to a read-only storage's derivatives_storage are read there
    held_by = slot.derivatives_storage_id or item["storage_id"]
    adapter = _adapter(session, team, ctx, held_by, "storage holding this item's derivatives")
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
