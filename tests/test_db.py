"""Units of work: ``Database.reading`` takes no write lock; ``write`` runs after it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.db import write
from moorage.models import Team
from moorage.teams.service import team_service


def teams(session: Session) -> list[str]:
    return list(session.scalars(select(Team.slug).order_by(Team.slug)))


def count_teams(ctx: AppContext) -> int:
    with ctx.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Team)) or 0)


class TestReading:
    def test_reads_while_a_writer_holds_its_transaction(self, ctx: AppContext) -> None:
        """A writer's open transaction (on SQLite: the database's write lock) keeps no reading
        unit waiting, and the reader sees what was committed, not what is being written."""
        with ctx.db.session() as session:
            team_service.create_team(session, slug="before")
        seen: list[list[str]] = []

        def read() -> None:
            with ctx.db.reading() as session:
                seen.append(teams(session))

        with ctx.db.session() as writer:
            team_service.create_team(writer, slug="during")
            writer.flush()  # holds the lock (SQLite took it at BEGIN IMMEDIATE) until the end
            reader = threading.Thread(target=read)
            reader.start()
            reader.join(timeout=5)
            waited = reader.is_alive()
        reader.join()
        assert not waited, "the reading unit waited for the writer"
        assert seen == [["before"]]

    def test_a_write_asked_for_runs_after_it_in_a_unit_of_its_own(
        self, ctx: AppContext, dialect: str
    ) -> None:
        ran: list[Session] = []

        def work(session: Session) -> None:
            ran.append(session)
            team_service.create_team(session, slug="written")

        with ctx.db.reading() as session:
            write(session, work)
            # SQLite: not yet (it would fail there); PostgreSQL: at once, in this unit
            assert len(ran) == (0 if dialect == "sqlite" else 1)
            reading = session
        assert len(ran) == 1
        assert (ran[0] is reading) == (dialect != "sqlite")
        with ctx.db.session() as session:
            assert teams(session) == ["written"]

    def test_a_failed_reading_unit_writes_nothing(self, ctx: AppContext) -> None:
        def work(session: Session) -> None:
            team_service.create_team(session, slug="written")

        def fail() -> None:
            with ctx.db.reading() as session:
                write(session, work)
                raise LookupError

        with pytest.raises(LookupError):
            fail()
        assert count_teams(ctx) == 0

    def test_outside_a_reading_unit_the_write_is_the_units_own(self, ctx: AppContext) -> None:
        ran: list[Session] = []

        def fail() -> None:
            with ctx.db.session() as session:
                write(session, lambda s: ran.append(s) or team_service.create_team(s, slug="w"))
                assert ran == [session]
                raise LookupError  # rolls it back with the unit

        with pytest.raises(LookupError):
            fail()
        assert count_teams(ctx) == 0
