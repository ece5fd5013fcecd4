"""Web session rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from moorage.models import ApiKey, Team, WebSession


class WebSessionRepository:
    def add(self, session: Session, row: WebSession) -> None:
        session.add(row)
        session.flush()

    def live(
        self, session: Session, token_hash: str, *, now: datetime
    ) -> tuple[WebSession, Team, ApiKey] | None:
        """The unexpired session of this token whose key is not revoked, with its team."""
        row = session.execute(
            select(WebSession, Team, ApiKey)
            .join(ApiKey, ApiKey.id == WebSession.api_key_id)
            .join(Team, Team.id == ApiKey.team_id)
            .where(
                WebSession.token_hash == token_hash,
                WebSession.expires_at > now,
                ApiKey.revoked_at.is_(None),
            )
        ).one_or_none()
        return None if row is None else (row[0], row[1], row[2])

    def remove(self, session: Session, token_hash: str) -> None:
        session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))

    def remove_expired(self, session: Session, *, now: datetime) -> None:
        session.execute(delete(WebSession).where(WebSession.expires_at <= now))


web_session_repository = WebSessionRepository()
