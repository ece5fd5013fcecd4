from __future__ import annotations

from typing import Any

from moorage.deps import PathTeamDep, SessionDep, TeamDep
from moorage.kit.routing import api_router
from moorage.teams.schemas import ApiKeyCreate
from moorage.teams.service import key_json, team_json, team_service

router = api_router(tags=["teams"])


@router.get("/users/token_info")
def token_info(team: TeamDep) -> dict[str, Any]:
    return {"selected_team": team_json(team), "teams": [team_json(team)]}


@router.get("/teams/{team}/api_keys")
def list_api_keys(session: SessionDep, team: PathTeamDep) -> list[dict[str, Any]]:
    return [key_json(k) for k in team_service.list_keys(session, team)]


@router.post("/teams/{team}/api_keys")
def create_api_key(session: SessionDep, team: PathTeamDep, body: ApiKeyCreate) -> dict[str, Any]:
    """Create a key. The response is the only time the key itself is shown."""
    row, key = team_service.create_key_row(session, team, name=body.name)
    return {**key_json(row), "api_key": key}


@router.delete("/teams/{team}/api_keys/{prefix}")
def revoke_api_key(session: SessionDep, team: PathTeamDep, prefix: str) -> dict[str, Any]:
    """Revoke a key at once, on every API process. The team's last active key stays."""
    return key_json(team_service.revoke_key(session, team, prefix=prefix))
