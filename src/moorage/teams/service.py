from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from moorage.db import write
from moorage.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from moorage.kit.text import slugify
from moorage.kit.timestamps import rfc3339
from moorage.models import ApiKey, Team
from moorage.models.base import utcnow
from moorage.security import generate_api_key, hash_api_key, keys_match, split_api_key
from moorage.teams.repository import api_key_repository, team_repository

#: ``last_used_at`` is written at most this often per key, so reads stay reads
LAST_USED_EVERY = timedelta(minutes=1)
_PREFIX = re.compile(r"[A-Za-z0-9]{7}")


def team_json(team: Team) -> dict[str, Any]:
    return {"id": team.id, "slug": team.slug, "name": team.name}


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC; both engines answer alike."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def key_json(key: ApiKey) -> dict[str, Any]:
    """What may be shown of a key: never the secret nor its hash."""
    return {
        "prefix": key.prefix,
        "name": key.name,
        "created_at": rfc3339(key.created_at),
        "last_used_at": rfc3339(key.last_used_at),
        "revoked_at": rfc3339(key.revoked_at),
    }


def check_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise ValidationFailed(
            "An API key prefix is the 7 letters or digits before the key's '.'.", field="prefix"
        )
    return prefix


class TeamService:
    def create_team(self, session: Session, *, slug: str, name: str | None = None) -> Team:
        clean = slugify(slug)
        if not clean or clean != slug:
            raise ValidationFailed(
                f"Team slug {slug!r} must be lower case letters, digits and '-' (try {clean!r}).",
                field="slug",
            )
        if team_repository.get_by_slug(session, slug) is not None:
            raise Conflict(f"Team {slug!r} already exists.", field="slug")
        team = Team(slug=slug, name=name or slug)
        session.add(team)
        session.flush()
        return team

    def create_key(self, session: Session, team: Team, *, name: str | None = None) -> str:
        """Create an API key; the plain key is returned once and never stored."""
        return self.create_key_row(session, team, name=name)[1]

    def create_key_row(
        self, session: Session, team: Team, *, name: str | None = None
    ) -> tuple[ApiKey, str]:
        key = generate_api_key()
        row = ApiKey(team_id=team.id, prefix=key[:7], key_hash=hash_api_key(key), name=name)
        session.add(row)
        session.flush()
        return row, key

    def list_keys(self, session: Session, team: Team) -> Sequence[ApiKey]:
        return api_key_repository.list(session, team.id)

    def revoke_key(
        self, session: Session, team: Team | None, *, prefix: str, allow_last: bool = False
    ) -> ApiKey:
        """Revoke a key at once. ``team=None`` is the operator (any team's key).

        Refuses the team's last active key unless ``allow_last``: through the API that would
        lock the team out until an operator makes a new key.
        """
        check_prefix(prefix)
        if team is None:
            key = api_key_repository.get_any_team(session, prefix)
        else:
            key = api_key_repository.get(session, team.id, prefix)
        if key is None:
            raise NotFound(f"API key {prefix!r} does not exist.", field="prefix")
        if key.revoked_at is not None:
            return key
        if not allow_last and api_key_repository.count_active(session, key.team_id) <= 1:
            raise Conflict(
                "This is the team's last active API key: create another before revoking it.",
                field="prefix",
            )
        key.revoked_at = utcnow()
        session.flush()
        return key

    def get_by_slug(self, session: Session, slug: str) -> Team:
        team = team_repository.get_by_slug(session, slug)
        if team is None:
            raise NotFound(f"Team {slug!r} does not exist.", field="team")
        return team

    @staticmethod
    def presented_key(authorization: str | None) -> str:
        """The key of an ``Authorization: ApiKey <key>`` (or ``Bearer``) header, unchecked;
        ``Unauthorized`` when there is none. No I/O."""
        if not authorization:
            raise Unauthorized("Send 'Authorization: ApiKey <key>'.")
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() not in ("apikey", "bearer") or not key:
            raise Unauthorized("Send 'Authorization: ApiKey <key>'.")
        return key

    def authenticate_key(self, session: Session, authorization: str | None) -> tuple[Team, ApiKey]:
        """The team and key of an ``Authorization`` header, read from the database every time
        (a revoked key is refused at once by every process)."""
        key = self.presented_key(authorization)
        prefix = split_api_key(key)
        if prefix is not None and not _PREFIX.fullmatch(prefix):
            prefix = None
        found = team_repository.get_by_key_prefix(session, prefix) if prefix else None
        if found is None or not keys_match(key, found[1].key_hash):
            raise Unauthorized("The API key is not valid.")
        self._note_use(session, found[1])
        return found

    @staticmethod
    def _note_use(session: Session, key: ApiKey) -> None:
        now = utcnow()
        last = _utc(key.last_used_at)
        if last is None or now - last >= LAST_USED_EVERY:
            # a reading unit (sign) writes it in a unit of its own, once it has ended
            write(
                session,
                lambda s: api_key_repository.touch(
                    s, key.id, now=now, before=now - LAST_USED_EVERY
                ),
            )


team_service = TeamService()
