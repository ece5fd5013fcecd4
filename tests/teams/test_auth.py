from __future__ import annotations

from fastapi.testclient import TestClient

from moorage.context import AppContext
from tests.conftest import TeamFixture, make_team


class TestTokenInfo:
    def test_returns_the_selected_team(self, api: TestClient, team: TeamFixture) -> None:
        r = api.get("/api/users/token_info")
        assert r.status_code == 200
        assert r.json()["selected_team"]["slug"] == "acme"

    def test_missing_key_is_401_json(self, client: TestClient) -> None:
        r = client.get("/api/users/token_info")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "UNAUTHORIZED"

    def test_wrong_key_is_401(self, client: TestClient, team: TeamFixture) -> None:
        bad = team.api_key[:-1] + ("a" if team.api_key[-1] != "a" else "b")
        r = client.get("/api/users/token_info", headers={"Authorization": f"ApiKey {bad}"})
        assert r.status_code == 401

    def test_malformed_key_is_401(self, client: TestClient) -> None:
        r = client.get("/api/users/token_info", headers={"Authorization": "ApiKey nonsense"})
        assert r.status_code == 401


class TestKeys:
    def test_key_has_darwin_shape_and_is_stored_hashed(
        self, ctx: AppContext, team: TeamFixture
    ) -> None:
        prefix, dot, rest = team.api_key.partition(".")
        assert (len(prefix), dot, len(rest)) == (7, ".", 32)
        with ctx.db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT prefix, key_hash FROM api_keys").all()
        assert len(rows) == 1
        assert rows[0][0] == prefix
        assert team.api_key not in rows[0][1] and rest not in rows[0][1]

    def test_other_team_path_is_404(self, ctx: AppContext, api: TestClient) -> None:
        make_team(ctx, "other")
        r = api.get("/api/teams/other/storage")
        assert r.status_code == 404
