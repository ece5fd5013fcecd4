"""Bulk writes for registration: Core inserts, one statement per table per chunk."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Table, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from moorage.models import Folder, Item, ItemTag, Job, Section, Slot

_CHUNK = 2000


def _chunks(rows: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _orjson_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _copy(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, into: str | None = None
) -> None:
    """PostgreSQL's COPY: the fastest bulk path, in this session's transaction."""
    columns = [c.name for c in table.columns if c.name in rows[0]]
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    names = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f"COPY {into or table.name} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    Jsonb(row[c], dumps=_orjson_dumps)
                    if c in json_cols and row[c] is not None
                    else row[c]
                    for c in columns
                ]
            )


class RegistrationRepository:
    def existing_names(
        self, session: Session, dataset_id: int, pairs: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Which (path, name) pairs the dataset already holds."""
        found: set[tuple[str, str]] = set()
        for chunk in _chunks(pairs, 500):
            rows = session.execute(
                select(Item.path, Item.name).where(
                    Item.dataset_id == dataset_id, tuple_(Item.path, Item.name).in_(chunk)
                )
            )
            found.update((p, n) for p, n in rows)
        return found

    def insert_items(self, session: Session, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
        """Insert items; a (dataset, path, name) that exists already is skipped, not an error.

        Returns the ids actually inserted, so a concurrent request that won the race for a name
        leaves this one's item out rather than making a second one.
        """
        table = Item.__table__
        inserted: set[uuid.UUID] = set()
        if not rows:
            return inserted
        if _is_postgres(session):
            # COPY into a scratch table, then one INSERT ... ON CONFLICT DO NOTHING from it
            session.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS items_incoming ON COMMIT DELETE ROWS "
                    "AS SELECT * FROM items WITH NO DATA"
                )
            )
            session.execute(text("TRUNCATE items_incoming"))
            _copy(session, table, rows, into="items_incoming")  # type: ignore[arg-type]
            # column names come from the model, never from a request
            cols = ", ".join(f'"{c}"' for c in rows[0])
            result = session.execute(
                text(
                    f"INSERT INTO items ({cols}) SELECT {cols} FROM items_incoming "  # noqa: S608
                    "ON CONFLICT (dataset_id, path, name) DO NOTHING RETURNING id"
                )
            )
            return set(result.scalars())
        for chunk in _chunks(rows):
            stmt = (
                _insert(session, table)  # type: ignore[arg-type]
                .on_conflict_do_nothing(index_elements=["dataset_id", "path", "name"])
                .returning(table.c.id)
            )
            inserted.update(session.scalars(stmt, list(chunk)))
        return inserted

    def insert_rows(
        self, session: Session, model: type[Any], rows: Sequence[dict[str, Any]]
    ) -> None:
        if not rows:
            return
        table = model.__table__
        if _is_postgres(session):
            _copy(session, table, rows)
            return
        for chunk in _chunks(rows):
            session.execute(table.insert(), list(chunk))

    def insert_folders(self, session: Session, dataset_id: int, paths: Iterable[str]) -> None:
        rows = [{"dataset_id": dataset_id, "path": p} for p in sorted(set(paths))]
        if not rows:
            return
        table = Folder.__table__
        stmt = _insert(session, table).on_conflict_do_nothing(  # type: ignore[arg-type]
            index_elements=["dataset_id", "path"]
        )
        session.execute(stmt, rows)

    def insert_children(
        self,
        session: Session,
        *,
        slots: Sequence[dict[str, Any]],
        sections: Sequence[dict[str, Any]],
        tags: Sequence[dict[str, Any]],
        jobs: Sequence[dict[str, Any]],
    ) -> None:
        self.insert_rows(session, Slot, slots)
        self.insert_rows(session, Section, sections)
        self.insert_rows(session, ItemTag, tags)
        self.insert_rows(session, Job, jobs)


registration_repository = RegistrationRepository()
