"""At scale: the API sends jobs to RabbitMQ or Redis and ``moorage worker`` processes run them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from moorage.app import create_app
from moorage.context import AppContext
from tests.helpers import REGISTER, jpeg_bytes, make_storage

BROKERS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/%2F",
    "redis": "redis://127.0.0.1:6379/{db}",
}


def _wait_all_complete(api: TestClient, ids: list[str], timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        items = [api.get(f"/api/v2/teams/acme/items/{i}").json() for i in ids]
        if (
            all(i["processing_status"] != "processing" for i in items)
            or time.monotonic() > deadline
        ):
            return items
        time.sleep(0.2)  # another process does the work; its result is only visible in the DB


@pytest.fixture(params=sorted(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> str:
    url = BROKERS[request.param].format(db=1 + uuid.uuid4().int % 14)
    if request.param == "redis":
        import redis

        redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def workers(ctx: AppContext, broker_url: str, tmp_path) -> Iterator[None]:
    """Two ``moorage worker`` processes sharing the test's database and storage root."""
    env = {
        **os.environ,
        "MOORAGE_DATABASE_URL": ctx.db.url,
        "MOORAGE_BROKER_URL": broker_url,
        "MOORAGE_DATA_DIR": str(ctx.settings.data_dir),
        "MOORAGE_SECRET_KEY": "test-secret",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "moorage.cli", "worker", "--threads", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    yield
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=30)


def test_jobs_run_on_worker_processes(
    ctx: AppContext, team, broker_url, workers, bucket, put_file
) -> None:
    ctx.settings.broker_url = broker_url
    with TestClient(create_app(ctx.settings, ctx, start_runtime=True)) as api:
        api.headers.update(team.headers)
        api.post("/api/datasets", json={"name": "Darwin Py"})
        make_storage(api)
        for i in range(6):
            put_file(f"img/{i}.jpg", jpeg_bytes(500 + i, 300))
        put_file("img/bad.jpg", b"\xff\xd8\xff garbage")
        items = [{"name": f"{i}.jpg", "storage_key": f"img/{i}.jpg"} for i in range(6)]
        items.append({"name": "bad.jpg", "storage_key": "img/bad.jpg"})
        body = api.post(
            REGISTER, json={"items": items, "dataset_slug": "darwin-py", "storage_slug": "media"}
        ).json()
        ids = [i["id"] for i in body["items"]]
        done = _wait_all_complete(api, ids)
    statuses = {i["name"]: i["processing_status"] for i in done}
    assert statuses == {**{f"{i}.jpg": "complete" for i in range(6)}, "bad.jpg": "error"}
    widths = sorted(i["slots"][0]["metadata"]["width"] for i in done if i["name"] != "bad.jpg")
    assert widths == [500, 501, 502, 503, 504, 505]
