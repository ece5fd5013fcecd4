from __future__ import annotations

from typing import Any

from moorage.deps import TeamDep
from moorage.kit.routing import api_router
from moorage.teams.service import team_json

router = api_router(tags=["teams"])


@router.get("/users/token_info")
def token_info(team: TeamDep) -> dict[str, Any]:
    return {"selected_team": team_json(team), "teams": [team_json(team)]}
