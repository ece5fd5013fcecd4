"""Bulk writes for registration: Core inserts, one statement per table per chunk."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import psycopg
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import JSON, Table, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from moorage.models import Base, Folder, Item
from moorage.registration.rows import Bulk, RegistrationRows

_CHUNK = 2000


def _chunks(rows: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _table(bulk: Bulk) -> Table:
    return Base.metadata.tables[bulk.table]


def _names(bulk: Bulk) -> str:
    # column names come from the models (rows.py), never from a request
    return ", ".join(f'"{c}"' for c in (*bulk.columns, *bulk.constants))


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _as_text(cursor: psycopg.Cursor[Any], value: Any) -> str | None:
    """``value`` as the text COPY would send for it, by psycopg's own dumper: a constant of
    every row is dumped once, not once a row (its timestamps were ~8 % of a sync's Python)."""
    if value is None or isinstance(value, str):
        return value
    dumped = Transformer(cursor).get_dumper(value, PyFormat.TEXT).dump(value)
    return None if dumped is None else bytes(dumped).decode()


def _copy(session: Session, bulk: Bulk, *, into: str | None = None) -> None:
    """PostgreSQL's COPY, in this session's transaction: JSON as text, the constants once."""
    table = _table(bulk)
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    constants = tuple(
        _json_text(v) if c in json_cols else _as_text(cursor, v) for c, v in bulk.constants.items()
    )
    json_at = [i for i, c in enumerate(bulk.columns) if c in json_cols]
    with cursor.copy(f"COPY {into or table.name} ({_names(bulk)}) FROM STDIN") as copy:
        for row in bulk.rows:
            if json_at:
                values = list(row)
                for i in json_at:
                    values[i] = _json_text(values[i])
                row = tuple(values)
            copy.write_row(row + constants)


def _sqlite_rows(session: Session, bulk: Bulk) -> list[tuple[Any, ...]]:
    """The rows in the driver's form (ids as hex text, timestamps and JSON as text), through
    each column's own SQLAlchemy conversion: the constants once, the rest once a value."""
    table, dialect = _table(bulk), session.get_bind().dialect

    def processor(name: str) -> Any:
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    constants = tuple(
        (p(v) if (p := processor(c)) is not None else v) for c, v in bulk.constants.items()
    )
    convert = [(i, p) for i, c in enumerate(bulk.columns) if (p := processor(c)) is not None]
    out: list[tuple[Any, ...]] = []
    for row in bulk.rows:
        values = list(row)
        for i, p in convert:
            values[i] = p(values[i])
        out.append((*values, *constants))
    return out


def _sqlite_insert(session: Session, bulk: Bulk, *, suffix: str = "") -> int:
    """``executemany`` on the driver, in this session's transaction: the rows written."""
    marks = ", ".join("?" * (len(bulk.columns) + len(bulk.constants)))
    sql = f"INSERT INTO {bulk.table} ({_names(bulk)}) VALUES ({marks}){suffix}"  # noqa: S608
    written = 0
    rows = _sqlite_rows(session, bulk)
    for chunk in _chunks(rows, 10_000):
        result = session.connection().exec_driver_sql(sql, list(chunk))
        written += result.rowcount
    return written


class RegistrationRepository:
    def existing_names(
        self, session: Session, dataset_id: int, pairs: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Which (path, name) pairs the dataset already holds: one statement, the pairs sent
        as one parameter (a JSON array on SQLite, two arrays on PostgreSQL), each looked up in
        the (dataset, path, name) index."""
        if not pairs:
            return set()
        if _is_postgres(session):
            rows = session.execute(
                text(
                    "SELECT i.path, i.name FROM unnest(CAST(:paths AS text[]), "
                    "CAST(:names AS text[])) AS j(path, name) JOIN items AS i "
                    "ON i.dataset_id = :dataset AND i.path = j.path AND i.name = j.name"
                ),
                {
                    "paths": [p for p, _ in pairs],
                    "names": [n for _, n in pairs],
                    "dataset": dataset_id,
                },
            )
        else:
            rows = session.connection().exec_driver_sql(
                "SELECT i.path, i.name FROM json_each(?) AS j CROSS JOIN items AS i "
                "WHERE i.dataset_id = ? AND i.path = json_extract(j.value, '$[0]') "
                "AND i.name = json_extract(j.value, '$[1]')",
                (orjson.dumps(pairs).decode(), dataset_id),
            )
        return {(p, n) for p, n in rows}

    def insert_items(self, session: Session, bulk: Bulk) -> set[uuid.UUID]:
        """Insert items; a (dataset, path, name) that exists already is skipped, not an error.

        Returns the ids actually inserted, so a concurrent request that won the race for a name
        leaves this one's item out rather than making a second one.
        """
        ids = [r[0] for r in bulk.rows]
        if not ids:
            return set()
        if _is_postgres(session):
            return self._copy_items(session, bulk)
        written = _sqlite_insert(
            session, bulk, suffix=' ON CONFLICT ("dataset_id", "path", "name") DO NOTHING'
        )
        if written == len(ids):
            return set(ids)
        found: set[uuid.UUID] = set()
        for chunk in _chunks(ids, 500):
            found.update(session.scalars(select(Item.id).where(Item.id.in_(chunk))))
        return found

    def _copy_items(self, session: Session, bulk: Bulk) -> set[uuid.UUID]:
        # straight into the table; only when a name was taken meanwhile (a unique violation
        # undone by the savepoint) through a scratch table and INSERT ... ON CONFLICT DO NOTHING
        savepoint = session.begin_nested()
        try:
            _copy(session, bulk)
        except psycopg.errors.UniqueViolation:
            savepoint.rollback()
        else:
            savepoint.commit()
            return {r[0] for r in bulk.rows}
        session.execute(
            text(
                "CREATE TEMP TABLE IF NOT EXISTS items_incoming ON COMMIT DELETE ROWS "
                "AS SELECT * FROM items WITH NO DATA"
            )
        )
        session.execute(text("TRUNCATE items_incoming"))
        _copy(session, bulk, into="items_incoming")
        cols = _names(bulk)
        result = session.execute(
            text(
                f"INSERT INTO items ({cols}) SELECT {cols} FROM items_incoming "  # noqa: S608
                "ON CONFLICT (dataset_id, path, name) DO NOTHING RETURNING id"
            )
        )
        return set(result.scalars())

    def insert(self, session: Session, bulk: Bulk) -> None:
        if not bulk.rows:
            return
        if _is_postgres(session):
            _copy(session, bulk)
        else:
            _sqlite_insert(session, bulk)

    def insert_folders(self, session: Session, dataset_id: int, paths: Iterable[str]) -> None:
        rows = [{"dataset_id": dataset_id, "path": p} for p in sorted(set(paths))]
        if not rows:
            return
        table = Folder.__table__
        stmt = _insert(session, table).on_conflict_do_nothing(  # type: ignore[arg-type]
            index_elements=["dataset_id", "path"]
        )
        session.execute(stmt, rows)

    def write(self, session: Session, rows: RegistrationRows, dataset_id: int) -> set[uuid.UUID]:
        """Every row of one registration; returns the ids of the items written (see
        ``insert_items``): the other items' rows are left out."""
        inserted = self.insert_items(session, rows.items)
        if len(inserted) < len(rows.items.rows):
            rows = rows.keeping(inserted)
        for bulk in rows.children:
            self.insert(session, bulk)
        self.insert_folders(session, dataset_id, rows.folders)
        return inserted


registration_repository = RegistrationRepository()
