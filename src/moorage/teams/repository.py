from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from moorage.models import ApiKey, Team

#: built once (every authenticated request runs it): building a statement costs more CPU than
#: SQLite spends running it
_BY_KEY_PREFIX = (
    select(Team, ApiKey)
    .join(ApiKey, ApiKey.team_id == Team.id)
    .where(ApiKey.prefix == bindparam("prefix"), ApiKey.revoked_at.is_(None))
)


class TeamRepository:
    def get_by_slug(self, session: Session, slug: str) -> Team | None:
        return session.scalars(select(Team).where(Team.slug == slug)).one_or_none()

    def get_by_key_prefix(self, session: Session, prefix: str) -> tuple[Team, ApiKey] | None:
        row = session.execute(_BY_KEY_PREFIX, {"prefix": prefix}).one_or_none()
        return None if row is None else (row[0], row[1])


class ApiKeyRepository:
    def list(self, session: Session, team_id: int) -> Sequence[ApiKey]:
        return session.scalars(
            select(ApiKey).where(ApiKey.team_id == team_id).order_by(ApiKey.created_at, ApiKey.id)
        ).all()

    def get(self, session: Session, team_id: int, prefix: str) -> ApiKey | None:
        return session.scalars(
            select(ApiKey).where(ApiKey.team_id == team_id, ApiKey.prefix == prefix)
        ).one_or_none()

    def get_any_team(self, session: Session, prefix: str) -> ApiKey | None:
        """For the operator's CLI only: a key of whichever team."""
        return session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()

    def count_active(self, session: Session, team_id: int) -> int:
        return int(
            session.scalar(
                select(func.count())
                .select_from(ApiKey)
                .where(ApiKey.team_id == team_id, ApiKey.revoked_at.is_(None))
            )
            or 0
        )

    def touch(self, session: Session, key_id: int, *, now: datetime, before: datetime) -> None:
        """Set ``last_used_at`` unless it is newer than ``before``.

        The row is locked with SKIP LOCKED (PostgreSQL): a concurrent request of the same key
        that is already writing it makes this one skip, never wait.
        """
        locked = (
            select(ApiKey.id)
            .where(
                ApiKey.id == key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < before),
            )
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == locked)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )


team_repository = TeamRepository()
api_key_repository = ApiKeyRepository()
