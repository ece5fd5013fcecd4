"""``run``: a built statement in the unit of work's own transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.kit.statements import run
from moorage.models import Team
from moorage.teams.service import team_service

_TEAMS: Table = Team.__table__  # type: ignore[assignment]
_RENAME = update(_TEAMS).where(_TEAMS.c.slug == bindparam("which")).values(name=bindparam("to"))


def names(ctx: AppContext) -> dict[str, str]:
    with ctx.db.session() as session:
        return dict(session.execute(select(Team.slug, Team.name)).tuples().all())


class TestRun:
    def test_runs_in_the_units_transaction_and_commits_with_it(self, ctx: AppContext) -> None:
        with ctx.db.session() as session:
            team_service.create_team(session, slug="a")
            team_service.create_team(session, slug="b")
        with ctx.db.session() as session:
            done = run(session, _RENAME, [{"which": "a", "to": "A"}, {"which": "b", "to": "B"}])
            assert done.rowcount == 2
            # seen by the ORM in the same transaction
            assert session.scalar(select(func.count()).where(Team.name == "A")) == 1
        assert names(ctx) == {"a": "A", "b": "B"}

    def test_rolls_back_with_the_unit(self, ctx: AppContext) -> None:
        with ctx.db.session() as session:
            team_service.create_team(session, slug="a")
        before = names(ctx)

        def fail(session: Session) -> None:
            run(session, _RENAME, {"which": "a", "to": "changed"})
            raise LookupError

        with pytest.raises(LookupError), ctx.db.session() as session:
            fail(session)
        assert names(ctx) == before
