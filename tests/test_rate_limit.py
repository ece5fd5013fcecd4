"""Rate limits per API key: 429 with Retry-After, shared by every API process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
import uvicorn
from fastapi.testclient import TestClient

from moorage.app import create_app
from moorage.config import Settings
from moorage.context import AppContext
from moorage.db import Database
from moorage.ops.ratelimit import parse_rate
from tests.conftest import TeamFixture, free_port, make_team

PING = "/api/users/token_info"
REDIS = "redis://127.0.0.1:6379/0"

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(ctx: AppContext) -> Iterator[MakeClient]:
    """An API process of its own (own engine, own limiter) on the test database."""
    opened: list[tuple[TestClient, AppContext]] = []

    def make(rate_limit: str = "3/hour", rate_limit_url: str | None = None) -> TestClient:
        settings = Settings(
            data_dir=ctx.settings.data_dir,
            database_url=ctx.settings.database_url,
            secret_key="test-secret",
            rate_limit=rate_limit,
            rate_limit_url=rate_limit_url,
        )
        process = AppContext(
            settings=settings, db=Database(settings.resolved_database_url), secrets=ctx.secrets
        )
        client = TestClient(create_app(settings, process))
        client.__enter__()
        opened.append((client, process))
        return client

    yield make
    for client, process in opened:
        client.__exit__(None, None, None)
        process.db.dispose()


def statuses(client: TestClient, team: TeamFixture, n: int) -> list[int]:
    return [client.get(PING, headers=team.headers).status_code for _ in range(n)]


class TestParse:
    @pytest.mark.parametrize(
        ("text", "limit", "period"),
        [
            ("1200/minute", 1200, 60),
            ("10/second", 10, 1),
            ("5/hours", 5, 3600),
            ("100/10seconds", 100, 10),
            (" 7 / day ", 7, 86400),
        ],
    )
    def test_forms(self, text: str, limit: int, period: int) -> None:
        rate = parse_rate(text)
        assert rate is not None and (rate.limit, rate.period) == (limit, period)

    @pytest.mark.parametrize("text", ["", "0", "0/minute", None])
    def test_off(self, text: str | None) -> None:
        assert parse_rate(text) is None

    @pytest.mark.parametrize("text", ["fast", "10/fortnight", "-1/minute", "10"])
    def test_bad(self, text: str) -> None:
        with pytest.raises(ValueError, match="MOORAGE_RATE_LIMIT"):
            parse_rate(text)


class TestOneProcess:
    """SQLite: this process's memory; PostgreSQL: the rate_windows table."""

    def test_429_with_retry_after_past_the_limit(
        self, make_client: MakeClient, team: TeamFixture
    ) -> None:
        client = make_client("3/hour")
        assert statuses(client, team, 3) == [200, 200, 200]
        r = client.get(PING, headers=team.headers)
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["Retry-After"]) <= 3600
        assert r.json()["error"]["code"] == "RATE_LIMITED"
        assert r.json()["error"]["retry_after"] == int(r.headers["Retry-After"])
        assert "X-Request-ID" in r.headers

    def test_each_key_has_its_own_budget(
        self, ctx: AppContext, make_client: MakeClient, team: TeamFixture
    ) -> None:
        other = make_team(ctx, "other")
        client = make_client("2/hour")
        assert statuses(client, team, 3) == [200, 200, 429]
        assert statuses(client, other, 2) == [200, 200]

    def test_unauthenticated_requests_do_not_count(
        self, make_client: MakeClient, team: TeamFixture
    ) -> None:
        client = make_client("2/hour")
        stolen = {"Authorization": f"ApiKey {team.api_key[:8]}{'x' * 32}"}
        assert {client.get(PING, headers=stolen).status_code for _ in range(5)} == {401}
        assert statuses(client, team, 3) == [200, 200, 429]

    def test_probes_and_scrapes_are_never_limited(
        self, make_client: MakeClient, team: TeamFixture
    ) -> None:
        client = make_client("1/hour")
        assert statuses(client, team, 2) == [200, 429]
        for path in ("/healthz", "/readyz", "/metrics"):
            codes = {client.get(path, headers=team.headers).status_code for _ in range(5)}
            assert codes == {200}, path

    def test_off_when_empty(self, make_client: MakeClient, team: TeamFixture) -> None:
        assert set(statuses(make_client(""), team, 20)) == {200}


class TestShared:
    def test_two_processes_share_the_database_counter(
        self, dialect: str, make_client: MakeClient, team: TeamFixture
    ) -> None:
        first, second = make_client("4/hour"), make_client("4/hour")
        assert statuses(first, team, 2) + statuses(second, team, 2) == [200] * 4
        if dialect == "sqlite":
            # SQLite serves one process: each limiter counts in its own memory
            assert statuses(first, team, 3) == [200, 200, 429]
            assert statuses(second, team, 3) == [200, 200, 429]
            return
        assert first.get(PING, headers=team.headers).status_code == 429
        assert second.get(PING, headers=team.headers).status_code == 429

    def test_two_processes_share_the_redis_counter(
        self, make_client: MakeClient, team: TeamFixture
    ) -> None:
        first, second = make_client("4/hour", REDIS), make_client("4/hour", REDIS)
        assert statuses(first, team, 2) + statuses(second, team, 2) == [200] * 4
        assert second.get(PING, headers=team.headers).status_code == 429
        assert first.get(PING, headers=team.headers).status_code == 429

    def test_redis_down_fails_open_and_logs_once(
        self, make_client: MakeClient, team: TeamFixture
    ) -> None:
        client = make_client("1/hour", f"redis://127.0.0.1:{free_port()}/0")
        with structlog.testing.capture_logs() as logs:
            assert statuses(client, team, 4) == [200] * 4
        warnings = [e for e in logs if e["event"] == "rate_limit.unavailable"]
        assert len(warnings) == 1, logs
        assert warnings[0]["backend"] == "redis"

    def test_database_counter_only_on_postgresql(self, ctx: AppContext, dialect: str) -> None:
        settings = Settings(data_dir=ctx.settings.data_dir, rate_limit_url="database")
        if dialect == "sqlite":
            with pytest.raises(ValueError, match="needs PostgreSQL"):
                AppContext(settings=settings, db=ctx.db, secrets=ctx.secrets)
            return
        process = AppContext(settings=settings, db=ctx.db, secrets=ctx.secrets)
        assert process.limiter is not None
        assert process.limiter.counter.name == "database"


@pytest.fixture
def limited_server(ctx: AppContext) -> Iterator[str]:
    """A live server allowing 2 requests a second per key."""
    settings = Settings(
        data_dir=ctx.settings.data_dir,
        database_url=ctx.settings.database_url,
        secret_key="test-secret",
        rate_limit="2/second",
    )
    app = create_app(settings, AppContext(settings=settings, db=ctx.db, secrets=ctx.secrets))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    ready = threading.Event()
    while not server.started and thread.is_alive():
        ready.wait(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


DARWIN_SCRIPT = textwrap.dedent(
    """
    import sys
    from darwin.client import Client

    client = Client.from_api_key(sys.argv[1])
    for _ in range(6):
        client._get("/users/token_info")
    print("OK")
    """
)


class TestDarwinPy:
    def test_darwin_py_retries_through_429(
        self, limited_server: str, team: TeamFixture, tmp_path: Path
    ) -> None:
        env = {
            **os.environ,
            "DARWIN_BASE_URL": limited_server,
            "HOME": str(tmp_path),
            # darwin-py waits its own exponential backoff (60 s first by default), not Retry-After
            "DARWIN_RETRY_INITIAL_WAIT": "1",
            "DARWIN_RETRY_MAX_WAIT": "2",
            "DARWIN_RETRY_MAX_ATTEMPTS": "10",
        }
        done = subprocess.run(
            [sys.executable, "-c", DARWIN_SCRIPT, team.api_key],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Rate limit exceeded" in done.stdout, done.stdout
        assert done.stdout.strip().endswith("OK")
