"""Engine, sessions and migrations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["READ_ONLY", "Database", "make_engine", "migrate", "write"]

#: the execution option of a unit of work that only reads (``Database.reading``)
READ_ONLY = "moorage_read_only"
_READ_ONLY_OPTIONS = {READ_ONLY: True}
#: ``Session.info`` of a reading unit on SQLite: the writes it asked for, run after it
_WRITES_AFTER = "moorage.writes_after_reading"

# an arbitrary constant: serialises migrations when several processes start at once
_MIGRATION_LOCK = 7_245_117


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # autocommit mode off in the driver; we issue BEGIN ourselves below
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # take the write lock up front: no deadlock-prone lock upgrades between writers;
            # a unit that only reads (``Database.reading``) takes none and waits for none
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def write(session: Session, work: Callable[[Session], None]) -> None:
    """Run ``work``, which writes, in the unit of work of ``session``; in a reading unit on
    SQLite (``Database.reading``), in a unit of its own begun once that one has ended."""
    writes: list[Callable[[Session], None]] | None = session.info.get(_WRITES_AFTER)
    if writes is None:
        work(session)
    else:
        writes.append(work)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("moorage") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to run from several processes."""
    cfg = alembic_config(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()
    else:
        command.upgrade(cfg, "head")


class Database:
    """Owns the engine and hands out units of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        with _unit(self.sessionmaker()) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A unit of work that only reads. On SQLite it begins with a plain ``BEGIN``: it takes
        no write lock, so it neither waits for a writer nor holds one back (WAL readers read
        their snapshot). It must not write itself: a write in a plain ``BEGIN`` cannot wait
        for the lock as ``BEGIN IMMEDIATE`` does (SQLite refuses it at once as "database is
        locked" when another writer committed since its snapshot). What it must write goes
        through :func:`write`, run in a unit of work of its own once this one has ended.
        PostgreSQL: the same as ``session``."""
        if self.dialect != "sqlite":
            with self.session() as session:
                yield session
            return
        session = self.sessionmaker()
        writes: list[Callable[[Session], None]] = []
        session.info[_WRITES_AFTER] = writes
        with _unit(session):
            session.connection(execution_options=_READ_ONLY_OPTIONS)
            yield session
        if writes:
            with self.session() as writing:
                for work in writes:
                    work(writing)

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _unit(session: Session) -> Iterator[Session]:
    """Commit ``session`` on success, roll it back on any error, close it either way."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
