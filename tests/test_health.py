"""Probes and scrapes: /healthz, /readyz (database, migrations, broker), /metrics."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from moorage.app import create_app
from moorage.config import Settings
from moorage.context import AppContext
from moorage.db import alembic_config, migrate
from moorage.models import Job
from moorage.ops import metrics
from moorage.worker.tasks import process_job
from tests.conftest import PG_ADMIN, free_port
from tests.helpers import REGISTER

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient, **headers: str) -> Samples:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def fresh_db(database_url: str, tmp_path: Path) -> Iterator[Callable[[str | None], AppContext]]:
    """A database of this test's own, migrated to ``revision`` (None: empty)."""
    made: list[tuple[AppContext, str | None]] = []

    def make(revision: str | None) -> AppContext:
        pg_name = None
        if database_url.startswith("postgresql"):
            pg_name = f"moorage_ready_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{pg_name}"')
            url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{pg_name}"
        else:
            (tmp_path / "own").mkdir(exist_ok=True)
            url = f"sqlite:///{tmp_path / 'own' / 'moorage.db'}"
        ctx = AppContext.from_settings(
            Settings(data_dir=tmp_path / "data", database_url=url, secret_key="t")
        )
        if revision == "head":
            migrate(ctx.db.engine)
        elif revision is not None:
            command.upgrade(alembic_config(ctx.db.engine), revision)
        made.append((ctx, pg_name))
        return ctx

    yield make
    for ctx, pg_name in made:
        ctx.close()
        if pg_name:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def drop_database(ctx: AppContext) -> None:
    ctx.db.engine.dispose()
    if ctx.db.dialect == "postgresql":
        name = ctx.db.url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    else:
        shutil.rmtree(Path(ctx.db.url.removeprefix("sqlite:///")).parent)


class TestHealthz:
    def test_up(self, client: TestClient) -> None:
        r = client.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}


class TestReadyz:
    def test_ready_without_a_broker(self, client: TestClient) -> None:
        r = client.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"] == {"database": "ok", "migrations": "ok", "broker": "skipped"}

    def test_503_when_the_database_is_gone(self, fresh_db) -> None:
        ctx = fresh_db("head")
        with TestClient(create_app(ctx.settings, ctx)) as client:
            assert client.get("/readyz").status_code == 200
            drop_database(ctx)
            r = client.get("/readyz")
        assert r.status_code == 503, r.text
        assert r.json()["failed"] == ["database", "migrations"]
        assert r.json()["checks"]["database"] == "unreachable"

    @pytest.mark.parametrize("revision", [None, "0001"])
    def test_503_when_migrations_are_not_at_head(self, fresh_db, revision: str | None) -> None:
        ctx = fresh_db(revision)
        with TestClient(create_app(ctx.settings, ctx)) as client:
            r = client.get("/readyz")
        assert r.status_code == 503, r.text
        assert r.json()["failed"] == ["migrations"]
        assert "head is" in r.json()["checks"]["migrations"]

    @pytest.mark.parametrize(
        "url", ["redis://127.0.0.1:6379/0", "amqp://guest:guest@127.0.0.1:5672/"]
    )
    def test_broker_reachable(self, ctx: AppContext, url: str) -> None:
        settings = ctx.settings.model_copy(update={"broker_url": url})
        app = create_app(settings, AppContext(settings=settings, db=ctx.db, secrets=ctx.secrets))
        with TestClient(app) as client:
            r = client.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"]["broker"] == "ok"

    @pytest.mark.parametrize("scheme", ["redis://", "amqp://guest:hunter2@"])
    def test_503_when_the_broker_is_down(self, ctx: AppContext, scheme: str) -> None:
        settings = ctx.settings.model_copy(
            update={"broker_url": f"{scheme}127.0.0.1:{free_port()}/"}
        )
        app = create_app(settings, AppContext(settings=settings, db=ctx.db, secrets=ctx.secrets))
        with TestClient(app) as client:
            r = client.get("/readyz")
        assert r.status_code == 503, r.text
        assert r.json()["failed"] == ["broker"]
        assert "hunter2" not in r.text and "127.0.0.1" not in r.text


def _register(api: TestClient, put_file) -> dict:
    put_file("cars/red.jpg")
    r = api.post(
        REGISTER,
        json={
            "dataset_slug": "darwin-py",
            "storage_slug": "media",
            "items": [
                {"path": "/secret-project", "storage_key": "cars/red.jpg", "name": "red.jpg"},
                {"storage_key": "cars/missing.jpg", "name": "missing.jpg"},
            ],
        },
    )
    assert r.status_code == 200, r.text
    return r.json()


class TestMetrics:
    def test_after_a_registration(self, api: TestClient, dataset, rw_storage, put_file) -> None:
        before = scrape(api)
        body = _register(api, put_file)
        assert len(body["items"]) == 1 and len(body["blocked_items"]) == 1
        after = scrape(api)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta("moorage_registered_items_total", readonly="false") == 1
        assert delta("moorage_blocked_items_total", reason="STORAGE_KEY_NOT_FOUND") == 1
        route = "/api/v2/teams/{team}/items/register_existing"
        assert delta("moorage_http_requests_total", route=route, method="POST", status="200") == 1
        assert delta("moorage_http_request_seconds_count", route=route, method="POST") == 1
        assert value(after, "moorage_jobs", state="queued") == 1
        assert value(after, "moorage_jobs", state="running") == 0
        assert value(after, "moorage_queue_depth", source="database") == 1
        assert value(after, "moorage_oldest_queued_job_seconds") >= 0
        text = api.get("/metrics").text
        for name in ("acme", "darwin-py", "red.jpg", "secret-project", "media"):
            assert name not in text, name

    def test_processing_seconds_by_kind(
        self, ctx: AppContext, api: TestClient, dataset, rw_storage, put_file
    ) -> None:
        _register(api, put_file)
        before = scrape(api)
        with ctx.db.session() as session:
            job_id = session.scalars(select(Job.id)).one()
        assert process_job(ctx, job_id) == "done"
        after = scrape(api)
        name = "moorage_processing_seconds_count"
        assert (
            value(after, name, kind="image", outcome="done")
            - value(before, name, kind="image", outcome="done")
            == 1
        )
        assert value(after, "moorage_jobs", state="queued") == 0

    def test_unmatched_paths_share_one_label(self, client: TestClient) -> None:
        for i in range(3):
            assert client.get(f"/no/such/{i}").status_code == 404
        samples = scrape(client)
        routes = {dict(k[1]).get("route") for k in samples if k[0] == "moorage_http_requests_total"}
        assert not any(r and r.startswith("/no/") for r in routes)
        assert "unmatched" in routes

    def test_token_when_configured(self, ctx: AppContext) -> None:
        settings = ctx.settings.model_copy(update={"metrics_token": "s3cret-token"})
        app = create_app(settings, AppContext(settings=settings, db=ctx.db, secrets=ctx.secrets))
        with TestClient(app) as client:
            assert client.get("/metrics").status_code == 401
            bad = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
            assert bad.status_code == 401
            scrape(client, Authorization="Bearer s3cret-token")


class TestStorageErrors:
    def test_counted_by_provider_and_reason_but_not_callers_mistakes(self) -> None:
        def count(provider: str, reason: str) -> float:
            return metrics.STORAGE_ERRORS.labels(provider, reason)._value.get()

        before = count("aws", "STORAGE_UNAVAILABLE"), count("aws", "STORAGE_KEY_NOT_FOUND")
        metrics.record_registration(
            provider="aws",
            readonly=False,
            registered=0,
            blocked=[
                {"slots": [{"reason": "STORAGE_UNAVAILABLE"}, {"reason": "OTHER_SLOT_BLOCKED"}]},
                {"slots": [{"reason": "STORAGE_KEY_NOT_FOUND"}]},
            ],
        )
        after = count("aws", "STORAGE_UNAVAILABLE"), count("aws", "STORAGE_KEY_NOT_FOUND")
        assert (after[0] - before[0], after[1] - before[1]) == (1, 0)

    def test_counted_when_checking_and_serving(self, api: TestClient, bucket: Path) -> None:
        """A local storage whose folder vanished: /check and serving both count the error."""
        from tests.helpers import make_storage

        def count() -> float:
            return metrics.STORAGE_ERRORS.labels("local", "STORAGE_FOLDER_NOT_ALLOWED")._value.get()

        make_storage(api, readonly=True)
        api.post("/api/datasets", json={"name": "gone"})
        (bucket / "a.jpg").write_bytes(b"\xff\xd8\xff")
        item = {"name": "a.jpg"}
        slot = {
            "slot_name": "0",
            "storage_key": "a.jpg",
            "file_name": "a.jpg",
            "storage_thumbnail_key": "a.jpg",
            "width": 4,
            "height": 4,
        }
        r = api.post(REGISTER, json={"dataset_slug": "gone", "items": [{**item, "slots": [slot]}]})
        assert r.status_code == 200 and r.json()["items"], r.text
        item_id = r.json()["items"][0]["id"]
        shutil.rmtree(bucket)
        bucket.symlink_to("/tmp")  # the folder swapped for a way out of the team's area
        before = count()
        assert api.post("/api/teams/acme/storage/media/check").json()["ok"] is False
        assert count() == before + 1
        served = api.get(f"/api/v2/teams/acme/items/{item_id}/slots/0/file")
        assert served.status_code == 409, served.text
        assert count() == before + 2
