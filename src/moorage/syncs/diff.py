"""One page of a sync: compare what was listed with what was seen, register what is new.

Everything a page does (items registered, keys recorded, items marked, the checkpoint) is one
transaction, so a run killed anywhere either wrote the whole page or nothing of it.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from moorage.context import AppContext, StorageRegistry
from moorage.kit.gcpause import gc_paused
from moorage.models import StorageConfig, Team
from moorage.registration.schemas import RegisterRequest
from moorage.registration.service import registration_service
from moorage.storage.base import ObjectInfo, StorageAdapter, StorageError
from moorage.storage.delegate import DelegatingAdapter
from moorage.syncs.plan import Plan, Planned
from moorage.syncs.repository import StoredKey, sync_repository
from moorage.worker.dispatch import send_after_commit

__all__ = ["BLOCKED_KEPT", "COUNTS", "Run", "apply_page", "handle_missing"]

COUNTS = ("listed", "registered", "unchanged", "changed", "blocked", "missing", "restored")
#: how many blocked items a sync keeps to show
BLOCKED_KEPT = 100


@dataclass
class Run:
    """What one run of a sync works with; counts and blocked are checkpointed with each page."""

    ctx: AppContext
    sync_id: uuid.UUID
    token: int
    team: Team
    dataset_id: int
    dataset_slug: str
    storage: StorageConfig
    adapter: StorageAdapter
    plan: Plan
    on_missing: str = "mark"
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    blocked: list[dict[str, Any]] = field(default_factory=list)

    @property
    def readonly(self) -> bool:
        return self.storage.readonly

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def block(self, entry: dict[str, Any]) -> None:
        self.add("blocked")
        if len(self.blocked) < BLOCKED_KEPT:
            self.blocked.append(entry)

    def key_row(self, info: ObjectInfo, **values: Any) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "storage_id": self.storage.id,
            "key": info.key,
            "size": info.size,
            "etag": etag_of(info.etag),
            "last_modified": info.last_modified,
            "item_id": None,
            "state": "present",
            "reason": None,
            **values,
        }


class SyncLost(Exception):
    """The sync is no longer this run's (taken back, or cancelled): stop, write nothing."""


def etag_of(etag: str | None) -> str | None:
    """S3 lists ETags quoted and sends them bare in events: compare them bare."""
    return (etag or "").strip('"')[:200] or None


def _same(row: StoredKey, info: ObjectInfo) -> bool:
    if row.etag and info.etag:
        return row.etag == etag_of(info.etag) and (row.size is None or row.size == info.size)
    return row.size == info.size and (
        row.last_modified is None
        or info.last_modified is None
        or row.last_modified == info.last_modified
    )


def apply_page(
    session: Session,
    run: Run,
    objects: Sequence[ObjectInfo],
    known: dict[str, StoredKey],
    *,
    boundary: str | None,
    wanted: bool = False,
) -> None:
    """Apply listed ``objects`` against ``known`` (the stored keys of the same key range):
    new, changed, restored and unchanged keys, and stored keys no longer listed (missing).
    ``boundary``: the last key listed so far (None at the end), which closes groups.
    ``wanted``: the objects are those the plan wants already (a listed key it does not want
    is left in ``known``: it is no stored key of this plan's, so none is marked missing)."""
    new: list[ObjectInfo] = []
    stored: set[str] = set()  # new to the dataset, but with a row (pending, blocked)
    changed: list[tuple[ObjectInfo, StoredKey]] = []
    restored: list[tuple[ObjectInfo, StoredKey]] = []
    wants = run.plan.wants
    for info in objects:
        if not wanted and not wants(info.key):
            continue
        run.add("listed")
        row = known.pop(info.key, None)
        if (
            row is None
            or row.state == "pending"
            or (row.state == "blocked" and not _same(row, info))
        ):
            new.append(info)
            if row is not None:
                stored.add(info.key)
        elif row.state == "missing":
            restored.append((info, row))
        elif _same(row, info):
            run.add("unchanged")
        else:
            changed.append((info, row))
    gone = [r for r in known.values() if r.state == "present" and run.plan.wants(r.key)]
    handle_missing(session, run, gone)
    _changed(session, run, changed, counter="changed")
    _changed(session, run, restored, counter="restored")
    _register_new(session, run, new, boundary=boundary, stored=stored)


def _changed(
    session: Session, run: Run, pairs: Sequence[tuple[ObjectInfo, StoredKey]], *, counter: str
) -> None:
    if not pairs:
        return
    run.add(counter, len(pairs))
    if run.dry_run:
        return
    sync_repository.save_keys(
        session, [run.key_row(info, item_id=row.item_id) for info, row in pairs]
    )
    items = [row.item_id for _, row in pairs if row.item_id is not None]
    if counter == "restored":
        archived = False if run.on_missing == "archive" else None
        sync_repository.set_source_status(session, items, status=None, archived=archived)
        items = [r.item_id for i, r in pairs if r.item_id is not None and not _same(r, i)]
    if items and not run.readonly:  # the file changed: make its derivatives again
        jobs = sync_repository.requeue_processing(session, run.team.id, list(dict.fromkeys(items)))
        send_after_commit(session, jobs)


def handle_missing(session: Session, run: Run, gone: Sequence[StoredKey]) -> None:
    """Keys that disappeared: the items stay (with their annotations), per ``on_missing``."""
    if not gone:
        return
    run.add("missing", len(gone))
    if run.dry_run:
        return
    items = list(dict.fromkeys(r.item_id for r in gone if r.item_id is not None))
    if run.on_missing == "mark":
        sync_repository.set_source_status(session, items, status="missing")
    elif run.on_missing == "archive":
        sync_repository.set_source_status(session, items, status="missing", archived=True)
    sync_repository.set_key_state(
        session,
        dataset_id=run.dataset_id,
        storage_id=run.storage.id,
        keys=[r.key for r in gone],
        state="missing",
    )


def _register_new(
    session: Session, run: Run, new: list[ObjectInfo], *, boundary: str | None, stored: set[str]
) -> None:
    """``stored``: the keys of ``new`` that have a row already (the others are inserted)."""
    plan = run.plan
    if plan.group != "none" and not run.dry_run:
        pending = sync_repository.pending(
            session, dataset_id=run.dataset_id, storage_id=run.storage.id
        )
        seen = {i.key for i in new}
        new = [_info(r) for r in pending if r.key not in seen] + new
        stored = stored | {r.key for r in pending}
    done, still_open = plan.groups_done(new, boundary)
    if still_open and not run.dry_run:
        sync_repository.save_keys(session, [run.key_row(i, state="pending") for i in still_open])
        stored = stored | {i.key for i in still_open}
    if not done:
        return
    if run.dry_run:
        run.add("registered", len(plan.items(done, run.adapter)) if plan.group == "none" else 0)
        return
    planned = plan.items(done, run.adapter)
    chunk = max(1, run.ctx.settings.max_items_per_request)
    for start in range(0, len(planned), chunk):
        _register(session, run, planned[start : start + chunk], done, stored=stored)


def _info(row: StoredKey) -> ObjectInfo:
    return ObjectInfo(
        key=row.key, size=row.size or 0, etag=row.etag, last_modified=row.last_modified
    )


@gc_paused()
def _register(
    session: Session,
    run: Run,
    planned: list[Planned],
    listed: list[ObjectInfo],
    *,
    stored: set[str],
) -> None:
    """Through THE registration path, with existence answered by the listing just made: no
    network wait, so the collector is paused throughout (it is back on between chunks)."""
    payload = RegisterRequest(
        items=[p.payload for p in planned],
        dataset_slug=run.dataset_slug,
        storage_slug=run.storage.slug,
    )
    result = registration_service.register(
        session,
        run.team,
        payload=payload,
        ctx=_with_listing(run, listed),
        base_url=(run.ctx.settings.public_url or "").rstrip("/"),
        look_up_names=False,  # keys new to the sync: a taken name is skipped by the write
    )
    by_name = {(i.path, i.name): i.id for i in result.registered}
    blocked = {i.index: i.blocked_json() for i in result.blocked}
    rows: list[dict[str, Any]] = []
    for index, p in enumerate(planned):
        item_id = by_name.get((p.payload["path"], p.payload["name"]))
        entry = blocked.get(index)
        if item_id is None and entry is not None and entry["reason"] == "ALREADY_EXISTS":
            item_id, entry = _adopt(session, run, p, entry)
        if item_id is not None:
            run.add("registered" if entry is None else "unchanged")
            rows.extend(run.key_row(k, item_id=item_id) for k in p.keys)
        elif entry is not None:
            run.block(_blocked_entry(p, entry))
            reason = str(entry["reason"])[:100]
            rows.extend(run.key_row(k, state="blocked", reason=reason) for k in p.keys)
    sync_repository.save_keys(session, [r for r in rows if r["key"] in stored])
    sync_repository.insert_new_keys(session, [r for r in rows if r["key"] not in stored])


def _adopt(
    session: Session, run: Run, planned: Planned, entry: dict[str, Any]
) -> tuple[uuid.UUID | None, dict[str, Any]]:
    """An item of the dataset already holds this key (another sync, or register_existing):
    adopted. A group (folder, series) is adopted when its item holds every listed key; one
    that gained files since its item was registered is blocked, naming them (decision 0035)."""
    payload = planned.payload
    if run.plan.group == "none":
        found = sync_repository.item_with_key(
            session,
            dataset_id=run.dataset_id,
            path=payload["path"],
            name=payload["name"],
            key=planned.keys[0].key,
        )
        return found, entry
    held = sync_repository.item_keys(
        session, dataset_id=run.dataset_id, path=payload["path"], name=payload["name"]
    )
    if held is None:
        return None, entry
    item_id, keys = held
    extra = [k.key for k in planned.keys if k.key not in keys]
    if not extra:
        return item_id, entry
    return None, group_registered(planned, extra, group=run.plan.group, files=len(keys))


def group_registered(
    planned: Planned, extra: Sequence[str], *, group: str, files: int
) -> dict[str, Any]:
    """The blocked entry of a folder or series item that gained ``extra`` keys later."""
    what = "series" if group == "dicom-series" else "folder"
    shown = ", ".join(repr(k) for k in extra[:3])
    if len(extra) > 3:
        shown += f" and {len(extra) - 3} more"
    name, path = planned.payload["name"], planned.payload["path"]
    return {
        "name": name,
        "path": path,
        "reason": "GROUP_REGISTERED",
        "message": (
            f"{shown} {'is' if len(extra) == 1 else 'are'} new in the {what} of item {name!r} "
            f"at path {path!r}, registered earlier with {files} file{'s' if files != 1 else ''}; "
            "a sync does not add files to a registered item (its annotations were made "
            f"against the {what} as it was). Register the new files with register_existing "
            "under another name, or delete the item and sync again to register the whole "
            f"{what} anew."
        ),
        "keys": list(extra),  # the entry shown names the first and counts them
    }


def _blocked_entry(planned: Planned, entry: dict[str, Any]) -> dict[str, Any]:
    extra = entry.get("keys")
    out = {
        "storage_key": extra[0] if extra else planned.keys[0].key,
        "name": entry.get("name"),
        "path": entry.get("path"),
        "reason": entry["reason"],
        "message": entry["message"],
    }
    if extra:
        out["keys"] = len(extra)
    elif len(planned.keys) > 1:
        out["keys"] = len(planned.keys)
    return out


class _ListedAdapter(DelegatingAdapter):
    """The sync's adapter, answering existence of the keys it has just listed without asking
    the storage again (the listing is the check); everything else goes to the storage."""

    def __init__(self, inner: StorageAdapter, listed: Iterable[ObjectInfo]) -> None:
        super().__init__(inner)
        self.listed = {i.key: i for i in listed}

    def check_many(self, keys: Iterable[str]) -> dict[str, StorageError | None]:
        wanted = list(dict.fromkeys(keys))
        rest = [k for k in wanted if k not in self.listed]
        out: dict[str, StorageError | None] = dict.fromkeys(
            (k for k in wanted if k in self.listed), None
        )
        if rest:
            out.update(self.inner.check_many(rest))
        return out

    def head(self, key: str) -> ObjectInfo:
        return self.listed.get(key) or self.inner.head(key)


class _ListedRegistry(StorageRegistry):
    def __init__(self, inner: StorageRegistry, adapter: StorageAdapter) -> None:
        self.__dict__.update(inner.__dict__)
        self.__dict__.pop("adapter_for", None)  # an instance override would hide ours
        self._listed_adapter = adapter

    def adapter_for(self, session: Session, storage: StorageConfig) -> StorageAdapter:
        return self._listed_adapter


def _with_listing(run: Run, listed: Iterable[ObjectInfo]) -> AppContext:
    ctx = copy.copy(run.ctx)
    ctx.storages = _ListedRegistry(run.ctx.storages, _ListedAdapter(run.adapter, listed))
    return ctx
