from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from moorage.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from moorage.kit.text import slugify
from moorage.models import ApiKey, Team
from moorage.security import generate_api_key, hash_api_key, keys_match, split_api_key
from moorage.teams.repository import team_repository


def team_json(team: Team) -> dict[str, Any]:
    return {"id": team.id, "slug": team.slug, "name": team.name}


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
        key = generate_api_key()
        session.add(ApiKey(team_id=team.id, prefix=key[:7], key_hash=hash_api_key(key), name=name))
        session.flush()
        return key

    def get_by_slug(self, session: Session, slug: str) -> Team:
        team = team_repository.get_by_slug(session, slug)
        if team is None:
            raise NotFound(f"Team {slug!r} does not exist.", field="team")
        return team

    def authenticate(self, session: Session, authorization: str | None) -> Team:
        if not authorization:
            raise Unauthorized("Send 'Authorization: ApiKey <key>'.")
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() not in ("apikey", "bearer") or not key:
            raise Unauthorized("Send 'Authorization: ApiKey <key>'.")
        prefix = split_api_key(key)
        found = team_repository.get_by_key_prefix(session, prefix) if prefix else None
        if found is None or not keys_match(key, found[1].key_hash):
            raise Unauthorized("The API key is not valid.")
        return found[0]


team_service = TeamService()
