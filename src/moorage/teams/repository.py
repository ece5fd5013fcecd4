from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from moorage.models import ApiKey, Team


class TeamRepository:
    def get_by_slug(self, session: Session, slug: str) -> Team | None:
        return session.scalars(select(Team).where(Team.slug == slug)).one_or_none()

    def get_by_key_prefix(self, session: Session, prefix: str) -> tuple[Team, ApiKey] | None:
        row = session.execute(
            select(Team, ApiKey)
            .join(ApiKey, ApiKey.team_id == Team.id)
            .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        ).one_or_none()
        return None if row is None else (row[0], row[1])


team_repository = TeamRepository()
