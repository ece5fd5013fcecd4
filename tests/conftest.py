"""Fixtures shared by the suite. Every DB test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from moorage.app import create_app
from moorage.config import Settings
from moorage.context import AppContext
from moorage.db import migrate
from moorage.models import Base
from moorage.teams.service import team_service
from moorage.worker.dispatch import set_dispatcher

pytest_plugins = ["tests.helpers"]

PG_ADMIN = os.environ.get("MOORAGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'moorage.db'}"
        return
    name = f"moorage_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _migrated(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppContext]:
    data_dir = tmp_path_factory.mktemp("data")
    settings = Settings(data_dir=data_dir, database_url=database_url, secret_key="test-secret")
    ctx = AppContext.from_settings(settings)
    migrate(ctx.db.engine)
    yield ctx
    ctx.close()


@pytest.fixture
def allowed_endpoints() -> str:
    """MOORAGE_ALLOWED_ENDPOINTS of the test server: the loopback emulators (moto, Azurite,
    fake-gcs-server). The SSRF tests override it with a narrower list."""
    return "127.0.0.1,::1"


@pytest.fixture
def processing_in() -> str:
    """MOORAGE_PROCESSING_IN of the in-process app: ``threads``, so a test's fakes and fault
    injections in this process reach the jobs. The child processes (the default) are tested by
    ``tests/worker/test_pool.py`` and by every test that starts ``moorage serve`` or ``moorage
    worker`` as a process."""
    return "threads"


@pytest.fixture
def ctx(
    _migrated: AppContext, tmp_path: Path, allowed_endpoints: str, processing_in: str
) -> Iterator[AppContext]:
    """A clean database and a fresh data dir (its storage root) for each test."""
    engine = _migrated.db.engine
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=_migrated.db.url,
        secret_key="test-secret",
        allowed_endpoints=allowed_endpoints,
        processing_in=processing_in,
    )
    ctx = AppContext(settings=settings, db=_migrated.db, secrets=_migrated.secrets)
    for root in settings.resolved_local_roots:
        root.mkdir(parents=True, exist_ok=True)
    yield ctx
    ctx.storages.close()


@pytest.fixture
def dialect(ctx: AppContext) -> str:
    return ctx.db.dialect


@dataclass
class TeamFixture:
    slug: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"ApiKey {self.api_key}"}


def make_team(ctx: AppContext, slug: str) -> TeamFixture:
    with ctx.db.session() as session:
        team = team_service.create_team(session, slug=slug)
        key = team_service.create_key(session, team)
    return TeamFixture(slug=slug, api_key=key)


@pytest.fixture
def team(ctx: AppContext) -> TeamFixture:
    return make_team(ctx, "acme")


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx.settings, ctx)) as c:
        yield c


@pytest.fixture
def api(client: TestClient, team: TeamFixture) -> TestClient:
    """A client that authenticates as ``team``."""
    client.headers.update(team.headers)
    return client


@pytest.fixture
def storage_root(ctx: AppContext) -> Path:
    """The operator's local root, shared by every team: no team's bucket may be this folder."""
    return ctx.settings.resolved_local_roots[0]


@pytest.fixture
def team_folder(storage_root: Path) -> Path:
    """``<root>/acme``: where team ``acme`` (the ``team`` fixture) keeps its local buckets."""
    path = storage_root / "acme"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    ctx: AppContext


@pytest.fixture
def live_server(ctx: AppContext) -> Iterator[LiveServer]:
    """moorage served by uvicorn on a loopback port, for real clients (darwin-py, requests)."""
    port = free_port()
    config = uvicorn.Config(
        create_app(ctx.settings, ctx), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()

    def wait() -> None:
        while not server.started and thread.is_alive():
            started.wait(0.01)

    wait()
    assert server.started, "uvicorn did not start"
    yield LiveServer(url=f"http://127.0.0.1:{port}", ctx=ctx)
    server.should_exit = True
    thread.join(timeout=10)


def json_of(response: Any) -> Any:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()


@pytest.fixture
def sent() -> Iterator[list[uuid.UUID]]:
    """The job ids handed to the broker after each commit, captured instead of run (a test
    runs them when it chooses)."""
    out: list[uuid.UUID] = []
    set_dispatcher(out.extend)
    yield out
    set_dispatcher(None)
