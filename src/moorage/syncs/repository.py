"""Sync rows and the keys syncs saw: every query scoped, every state change one guarded UPDATE."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol, cast

import psycopg
from sqlalchemy import Table, and_, bindparam, or_, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from moorage.models import Folder, Item, Job, Slot, Sync, SyncKey, Team
from moorage.models.base import utcnow
from moorage.registration.repository import registration_repository
from moorage.registration.rows import Bulk

#: states in which a sync still has work to do (``watching``: between passes)
LIVE = ("queued", "running", "watching")

keys_t = cast(Table, SyncKey.__table__)
_KEY_VALUES = ("size", "etag", "last_modified", "item_id", "state", "reason")


class StoredKey(Protocol):
    """What a diff reads of a stored key: a ``SyncKey`` row, or a ``KeyRow`` read in bulk."""

    @property
    def key(self) -> str: ...
    @property
    def size(self) -> int | None: ...
    @property
    def etag(self) -> str | None: ...
    @property
    def last_modified(self) -> datetime | None: ...
    @property
    def item_id(self) -> uuid.UUID | None: ...
    @property
    def state(self) -> str: ...


class KeyRow(NamedTuple):
    """A stored key read as plain values (no ORM identity: a page reads thousands)."""

    key: str
    size: int | None
    etag: str | None
    last_modified: datetime | None
    item_id: uuid.UUID | None
    state: str


_KEY_ROW = [keys_t.c[name] for name in KeyRow._fields]


def _upsert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


class SyncRepository:
    # -- the API's reads, scoped to the team --
    def get(self, session: Session, team: Team, sync_id: uuid.UUID) -> Sync | None:
        return session.scalars(
            select(Sync).where(Sync.team_id == team.id, Sync.id == sync_id)
        ).one_or_none()

    def page(
        self, session: Session, team: Team, *, size: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[Sync]:
        """Newest first, keyset on (created_at, id)."""
        stmt = select(Sync).where(Sync.team_id == team.id)
        if after is not None:
            stmt = stmt.where(tuple_(Sync.created_at, Sync.id) < after)
        order = (Sync.created_at.desc(), Sync.id.desc())
        return session.scalars(stmt.order_by(*order).limit(size + 1)).all()

    def cancel(self, session: Session, sync_id: uuid.UUID) -> bool:
        result = session.execute(
            update(Sync)
            .where(Sync.id == sync_id, Sync.state.in_(LIVE))
            .values(state="cancelled", finished_at=utcnow(), held=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- the lease of a run --
    def by_id(self, session: Session, sync_id: uuid.UUID) -> Sync | None:
        return session.get(Sync, sync_id)

    def claim(self, session: Session, sync_id: uuid.UUID, *, attempt: int | None) -> int | None:
        """Take a sync that no run holds; returns the new lease token, or None."""
        stmt = update(Sync).where(Sync.id == sync_id, Sync.state.in_(LIVE), Sync.held.is_(False))
        if attempt is not None:
            stmt = stmt.where(Sync.attempts == attempt)
        row = session.execute(
            stmt.values(held=True, attempts=Sync.attempts + 1, heartbeat_at=utcnow()).returning(
                Sync.attempts
            )
        ).first()
        return int(row[0]) if row is not None else None

    def held_update(self, session: Session, sync_id: uuid.UUID, token: int, **values: Any) -> bool:
        """Write ``values`` only while this run still holds the sync (and it was not cancelled)."""
        result = session.execute(
            update(Sync)
            .where(
                Sync.id == sync_id,
                Sync.attempts == token,
                Sync.held.is_(True),
                Sync.state.in_(LIVE),
            )
            .values(heartbeat_at=utcnow(), **values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def take_back_silent(
        self, session: Session, *, silent_since: datetime
    ) -> list[tuple[uuid.UUID, int]]:
        """Held syncs whose heartbeat stopped: no longer held (their run died)."""
        where = and_(Sync.held.is_(True), Sync.state.in_(LIVE), Sync.heartbeat_at < silent_since)
        return self._touch(session, where, held=False)

    def waiting(
        self, session: Session, *, before: datetime, due_before: datetime
    ) -> list[tuple[uuid.UUID, int]]:
        """Syncs no run holds that should be running: queued or mid-pass since before
        ``before``, or watching with a pass due before ``due_before``. Touched: sent now."""
        where = and_(
            Sync.held.is_(False),
            or_(
                and_(Sync.state.in_(("queued", "running")), Sync.heartbeat_at < before),
                and_(Sync.state == "watching", Sync.next_run_at < due_before),
            ),
        )
        return self._touch(session, where)

    def _touch(self, session: Session, where: Any, **values: Any) -> list[tuple[uuid.UUID, int]]:
        rows = session.execute(
            update(Sync)
            .where(where)
            .values(heartbeat_at=utcnow(), **values)
            .returning(Sync.id, Sync.attempts)
            .execution_options(synchronize_session=False)
        ).all()
        return [(row[0], int(row[1])) for row in rows]

    # -- what syncs saw of each key --
    def keys_between(
        self,
        session: Session,
        *,
        dataset_id: int,
        storage_id: int,
        low: str,
        low_inclusive: bool,
        high: str | None,
    ) -> dict[str, StoredKey]:
        """Stored keys with ``low < key <= high`` (``high`` None: to the end of ``low``'s
        prefix is the caller's to bound; here: unbounded)."""
        column = keys_t.c.key
        stmt = select(*_KEY_ROW).where(
            keys_t.c.dataset_id == dataset_id,
            keys_t.c.storage_id == storage_id,
            column >= low if low_inclusive else column > low,
        )
        if high is not None:
            stmt = stmt.where(column <= high)
        return {row[0]: KeyRow(*row) for row in session.execute(stmt)}

    def pending(self, session: Session, *, dataset_id: int, storage_id: int) -> Sequence[SyncKey]:
        return session.scalars(
            select(SyncKey)
            .where(
                SyncKey.dataset_id == dataset_id,
                SyncKey.storage_id == storage_id,
                SyncKey.state == "pending",
            )
            .order_by(SyncKey.key)
        ).all()

    def key(
        self, session: Session, *, dataset_id: int, storage_id: int, key: str
    ) -> SyncKey | None:
        return session.get(SyncKey, (dataset_id, storage_id, key))

    def save_keys(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or overwrite what was seen of each key, in bulk (one cached statement,
        executed for many rows)."""
        if not rows:
            return
        stmt = _upsert(session, keys_t)
        stmt = stmt.on_conflict_do_update(
            index_elements=["dataset_id", "storage_id", "key"],
            set_={c: stmt.excluded[c] for c in _KEY_VALUES},
        )
        session.execute(stmt, list(rows))

    def commit_without_waiting(self, session: Session) -> None:
        """On PostgreSQL, this transaction's commit does not wait for its WAL to reach disk
        (``synchronous_commit = off``, this transaction only). A database crash may then lose
        the last page or two written, whole: each page's checkpoint is in its transaction, so
        the sync resumes before them and nothing is lost or written twice (decision 0042)."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL synchronous_commit = off"))

    def insert_new_keys(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """Keys no row holds yet (just listed for the first time): PostgreSQL ``COPY``s them,
        ~10x faster than the upsert's executemany; a key another sync of the same prefix stored
        meanwhile (a unique violation, undone by the savepoint) sends the page to the upsert."""
        if not rows:
            return
        if session.get_bind().dialect.name != "postgresql":
            self.save_keys(session, rows)
            return
        columns = ("key", *_KEY_VALUES)
        bulk = Bulk(
            "sync_keys",
            columns,
            [tuple(r[c] for c in columns) for r in rows],
            {"dataset_id": rows[0]["dataset_id"], "storage_id": rows[0]["storage_id"]},
        )
        savepoint = session.begin_nested()
        try:
            registration_repository.insert(session, bulk)
        except psycopg.errors.UniqueViolation:
            savepoint.rollback()
            self.save_keys(session, rows)
        else:
            savepoint.commit()

    def set_key_state(
        self, session: Session, *, dataset_id: int, storage_id: int, keys: Sequence[str], state: str
    ) -> None:
        """One primary-key UPDATE per key, executed for many (PostgreSQL planned ``key IN
        (...)`` over the ``COLLATE "C"`` column as a scan of the dataset's keys: 55 ms a page)."""
        if not keys:
            return
        stmt = (
            update(keys_t)
            .where(
                keys_t.c.dataset_id == bindparam("b_dataset"),
                keys_t.c.storage_id == bindparam("b_storage"),
                keys_t.c.key == bindparam("b_key"),
            )
            .values(state=state)
        )
        rows = [{"b_dataset": dataset_id, "b_storage": storage_id, "b_key": k} for k in keys]
        session.connection().execute(stmt, rows)

    def stored_folders(self, session: Session, *, dataset_id: int, paths: set[str]) -> set[str]:
        """Which of ``paths`` the dataset's folders table holds (committed)."""
        rows = session.scalars(
            select(Folder.path).where(Folder.dataset_id == dataset_id, Folder.path.in_(paths))
        )
        return set(rows)

    # -- what a diff does to items --
    def set_source_status(
        self,
        session: Session,
        item_ids: Sequence[uuid.UUID],
        *,
        status: str | None,
        archived: bool | None = None,
    ) -> None:
        values: dict[str, Any] = {"source_status": status, "updated_at": utcnow()}
        if archived is not None:
            values["archived"] = archived
        for start in range(0, len(item_ids), 2000):
            session.execute(
                update(Item).where(Item.id.in_(item_ids[start : start + 2000])).values(**values)
            )

    def requeue_processing(
        self, session: Session, team_id: int, item_ids: Sequence[uuid.UUID]
    ) -> list[uuid.UUID]:
        """A new processing job for every slot of these items (their file changed)."""
        if not item_ids:
            return []
        now = utcnow()
        slots = session.execute(
            select(Slot.id, Slot.item_id).where(Slot.item_id.in_(item_ids))
        ).all()
        jobs: list[dict[str, Any]] = [
            {
                "id": uuid.uuid4(),
                "team_id": team_id,
                "item_id": item_id,
                "slot_id": slot_id,
                "kind": "process_slot",
                "status": "queued",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            for slot_id, item_id in slots
        ]
        if jobs:
            session.execute(cast(Table, Job.__table__).insert(), jobs)
        session.execute(
            update(Item)
            .where(Item.id.in_(item_ids))
            .values(processing_status="processing", status="processing", updated_at=now)
        )
        return [uuid.UUID(str(j["id"])) for j in jobs]

    def item_keys(
        self, session: Session, *, dataset_id: int, path: str, name: str
    ) -> tuple[uuid.UUID, set[str]] | None:
        """The dataset's item at (path, name) and every storage key it holds (its slots' files
        and a series slot's source files); None when there is no such item."""
        rows = session.execute(
            select(Item.id, Slot.storage_key, Slot.source_files)
            .outerjoin(Slot, Slot.item_id == Item.id)
            .where(Item.dataset_id == dataset_id, Item.path == path, Item.name == name)
        ).all()
        if not rows:
            return None
        keys: set[str] = set()
        for _, key, sources in rows:
            if key is not None:
                keys.add(key)
            keys.update(f["storage_key"] for f in sources or [] if f.get("storage_key"))
        return rows[0][0], keys

    def item_with_key(
        self, session: Session, *, dataset_id: int, path: str, name: str, key: str
    ) -> uuid.UUID | None:
        """The dataset's item at (path, name) holding ``key``: one registered earlier."""
        return session.scalar(
            select(Item.id)
            .join(Slot, Slot.item_id == Item.id)
            .where(
                Item.dataset_id == dataset_id,
                Item.path == path,
                Item.name == name,
                Slot.storage_key == key,
            )
            .limit(1)
        )


sync_repository = SyncRepository()
