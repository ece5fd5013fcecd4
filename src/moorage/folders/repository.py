from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from moorage.kit.statements import run
from moorage.models import Team, TeamFolder

#: built once: every local storage's adapter reads it (each PUT and job), and a statement built
#: per call costs more CPU than SQLite spends running it
_SLUG_AND_PATHS = (
    select(Team.slug, TeamFolder.path)
    .outerjoin(TeamFolder, TeamFolder.team_id == Team.id)
    .where(Team.id == bindparam("team_id"))
    .order_by(TeamFolder.path)
)


class FolderRepository:
    def list_for(self, session: Session, team: Team) -> Sequence[TeamFolder]:
        return session.scalars(
            select(TeamFolder).where(TeamFolder.team_id == team.id).order_by(TeamFolder.path)
        ).all()

    def get(self, session: Session, team: Team, path: str) -> TeamFolder | None:
        return session.scalars(
            select(TeamFolder).where(TeamFolder.team_id == team.id, TeamFolder.path == path)
        ).one_or_none()

    def slug_and_paths(self, session: Session, team_id: int) -> tuple[str, list[str]] | None:
        """The team's slug and granted paths in one query; None when the team is gone."""
        rows = run(session, _SLUG_AND_PATHS, {"team_id": team_id}).all()
        if not rows:
            return None
        return rows[0][0], [path for _, path in rows if path is not None]


folder_repository = FolderRepository()
