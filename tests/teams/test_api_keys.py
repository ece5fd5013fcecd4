"""API keys over the API and the operator CLI: list, create once, revoke at once everywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from moorage.app import create_app
from moorage.cli import app as cli_app
from moorage.config import Settings, get_settings
from moorage.context import AppContext
from moorage.models import ApiKey
from moorage.models.base import utcnow
from tests.conftest import TeamFixture, make_team

KEYS = "/api/teams/acme/api_keys"
FIELDS = {"prefix", "name", "created_at", "last_used_at", "revoked_at"}


def create(api: TestClient, name: str = "ci") -> dict:
    r = api.post(KEYS, json={"name": name})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def second_app(ctx: AppContext) -> Iterator[TestClient]:
    """Another API process: its own context (engine, pools, limiter) on the same database."""
    other = AppContext.from_settings(
        Settings(
            data_dir=ctx.settings.data_dir,
            database_url=ctx.settings.database_url,
            secret_key="test-secret",
        )
    )
    with TestClient(create_app(other.settings, other)) as client:
        yield client
    other.close()


class TestList:
    def test_lists_prefix_name_and_dates_never_the_secret(
        self, api: TestClient, team: TeamFixture, ctx: AppContext
    ) -> None:
        r = api.get(KEYS)
        assert r.status_code == 200, r.text
        keys = r.json()
        assert [k["prefix"] for k in keys] == [team.api_key[:7]]
        assert set(keys[0]) == FIELDS
        with ctx.db.session() as session:
            stored = session.scalars(select(ApiKey.key_hash)).one()
        assert team.api_key[8:] not in r.text and stored not in r.text

    def test_records_last_use_at_most_once_a_minute(
        self, api: TestClient, team: TeamFixture, ctx: AppContext
    ) -> None:
        first = api.get(KEYS).json()[0]["last_used_at"]
        assert first is not None
        assert api.get(KEYS).json()[0]["last_used_at"] == first
        with ctx.db.session() as session:
            session.execute(update(ApiKey).values(last_used_at=utcnow() - timedelta(minutes=2)))
        later = api.get(KEYS).json()[0]["last_used_at"]
        assert later is not None and later != first


class TestCreate:
    def test_key_is_shown_once_and_works(self, api: TestClient, client: TestClient) -> None:
        made = create(api, "uploader")
        key = made["api_key"]
        assert (len(key), key[7], key[:7]) == (40, ".", made["prefix"])
        assert made["name"] == "uploader" and made["revoked_at"] is None
        listed = api.get(KEYS).json()
        assert key not in json.dumps(listed)
        assert {k["prefix"] for k in listed} >= {made["prefix"]}
        r = client.get("/api/users/token_info", headers={"Authorization": f"ApiKey {key}"})
        assert r.status_code == 200
        assert r.json()["selected_team"]["slug"] == "acme"

    @pytest.mark.parametrize(
        ("body", "why"),
        [
            ({"name": "x" * 201}, "too long"),
            ({"name": "x" * 100_000}, "huge"),
            ({"name": "a\u0000b"}, "NUL"),
            ({"name": "line\r\nbreak"}, "CR/LF"),
            ({"name": "   "}, "blank"),
            ({"name": ""}, "empty"),
            ({"name": 7}, "not a string"),
            ({}, "missing"),
            ({"name": "ok", "admin": True}, "unknown field"),
        ],
    )
    def test_hostile_names_are_422_naming_name(self, api: TestClient, body: dict, why: str) -> None:
        r = api.post(KEYS, json=body)
        assert r.status_code == 422, (why, r.text)
        assert r.json()["error"]["field"] in ("name", "admin"), r.text

    def test_lone_surrogate_is_422(self, api: TestClient) -> None:
        r = api.post(
            KEYS, content=b'{"name": "\\udfff"}', headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "name"


class TestRevoke:
    def test_revoked_key_is_401_at_once_on_another_process(
        self, api: TestClient, client: TestClient, second_app: TestClient
    ) -> None:
        key = create(api)["api_key"]
        auth = {"Authorization": f"ApiKey {key}"}
        assert second_app.get("/api/users/token_info", headers=auth).status_code == 200
        r = api.delete(f"{KEYS}/{key[:7]}")
        assert r.status_code == 200, r.text
        assert r.json()["revoked_at"] is not None
        assert second_app.get("/api/users/token_info", headers=auth).status_code == 401
        assert client.get("/api/users/token_info", headers=auth).status_code == 401
        listed = {k["prefix"]: k for k in api.get(KEYS).json()}
        assert listed[key[:7]]["revoked_at"] is not None

    def test_a_key_may_revoke_itself(self, api: TestClient, team: TeamFixture) -> None:
        create(api)
        r = api.delete(f"{KEYS}/{team.api_key[:7]}")
        assert r.status_code == 200, r.text
        assert api.get(KEYS).status_code == 401

    def test_the_last_active_key_stays(self, api: TestClient, team: TeamFixture) -> None:
        r = api.delete(f"{KEYS}/{team.api_key[:7]}")
        assert r.status_code == 409, r.text
        assert r.json()["error"]["field"] == "prefix"
        assert api.get(KEYS).status_code == 200

    def test_revoking_twice_keeps_the_first_date(self, api: TestClient) -> None:
        prefix = create(api)["prefix"]
        first = api.delete(f"{KEYS}/{prefix}").json()["revoked_at"]
        again = api.delete(f"{KEYS}/{prefix}")
        assert again.status_code == 200 and again.json()["revoked_at"] == first

    @pytest.mark.parametrize("prefix", ["abc", "abcdefgh", "abc%00efg", "ab.defg", "%C3%A9" * 7])
    def test_bad_prefix_is_422_naming_prefix(self, api: TestClient, prefix: str) -> None:
        r = api.delete(f"{KEYS}/{prefix}")
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "prefix"

    def test_unknown_prefix_is_404(self, api: TestClient) -> None:
        assert api.delete(f"{KEYS}/Zz9Zz9Z").status_code == 404


class TestIsolation:
    def test_another_teams_key_is_404_and_stays_valid(
        self, ctx: AppContext, api: TestClient, client: TestClient
    ) -> None:
        other = make_team(ctx, "other")
        with ctx.db.session() as session:
            from moorage.teams.service import team_service

            team_service.create_key(session, team_service.get_by_slug(session, "other"))
        r = api.delete(f"{KEYS}/{other.api_key[:7]}")
        assert r.status_code == 404, r.text
        assert client.get("/api/users/token_info", headers=other.headers).status_code == 200

    def test_another_teams_list_and_create_are_404(self, ctx: AppContext, api: TestClient) -> None:
        make_team(ctx, "other")
        assert api.get("/api/teams/other/api_keys").status_code == 404
        assert api.post("/api/teams/other/api_keys", json={"name": "x"}).status_code == 404
        assert api.delete("/api/teams/other/api_keys/Zz9Zz9Z").status_code == 404

    def test_unauthenticated_is_401(self, client: TestClient, team: TeamFixture) -> None:
        assert client.get(KEYS).status_code == 401
        assert client.post(KEYS, json={"name": "x"}).status_code == 401
        assert client.delete(f"{KEYS}/{team.api_key[:7]}").status_code == 401


class TestCli:
    @pytest.fixture
    def run(self, ctx: AppContext) -> Iterator:
        env = {
            "MOORAGE_DATABASE_URL": ctx.settings.resolved_database_url,
            "MOORAGE_DATA_DIR": str(ctx.settings.data_dir),
            "MOORAGE_SECRET_KEY": "test-secret",
        }

        def invoke(*args: str) -> tuple[int, str]:
            result = CliRunner().invoke(cli_app, list(args), env=env)
            return result.exit_code, result.output

        yield invoke
        get_settings.cache_clear()

    def test_list_keys_then_revoke_the_last_one(
        self, run, team: TeamFixture, client: TestClient
    ) -> None:
        code, out = run("admin", "list-keys", "--team", "acme")
        assert code == 0, out
        listed = json.loads(out)
        assert [k["prefix"] for k in listed] == [team.api_key[:7]]
        assert team.api_key[8:] not in out
        code, out = run("admin", "revoke-key", team.api_key[:7])
        assert code == 0, out
        assert json.loads(out)["revoked_at"] is not None
        assert client.get(KEYS, headers=team.headers).status_code == 401

    def test_unknown_team_and_prefix_exit_1(self, run, team: TeamFixture) -> None:
        assert run("admin", "list-keys", "--team", "nope")[0] == 1
        assert run("admin", "revoke-key", "Zz9Zz9Z")[0] == 1
        assert run("admin", "revoke-key", "bad")[0] == 1
