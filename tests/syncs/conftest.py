from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from moorage.context import AppContext
from moorage.worker.runtime import Runtime
from tests.test_cli import env  # noqa: F401  (a fixture: the CLI tests' environment)
from tests.worker.test_shutdown import redis_url, sender  # noqa: F401  (fixtures: Redis)

SYNCS = "/api/v2/teams/acme/datasets/{dataset}/syncs"
SYNC = "/api/v2/teams/acme/syncs/{id}"
DONE = ("complete", "failed", "cancelled")


@pytest.fixture
def runtime(ctx: AppContext) -> Iterator[Runtime]:
    """In-process Dramatiq (StubBroker) with two worker threads, as ``moorage serve`` runs it."""
    rt = Runtime(ctx, broker_url=None, threads=2)
    rt.install()
    rt.start_workers(reconcile_every=3600)
    yield rt
    rt.stop(grace=1)


def wait_for(
    api: TestClient, sync_id: str, states: tuple[str, ...] = DONE, timeout: float = 60
) -> dict[str, Any]:
    """Poll the sync until it reaches one of ``states`` (the condition awaited)."""
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(SYNC.format(id=sync_id)).json()
        if body["state"] in states or time.monotonic() > deadline:
            assert body["state"] in states, body
            return body
        time.sleep(0.05)


@pytest.fixture
def start_sync(api: TestClient, dataset: dict, rw_storage: dict, runtime: Runtime) -> Callable:
    def start(**body: Any) -> dict[str, Any]:
        r = api.post(SYNCS.format(dataset=dataset["slug"]), json={"storage_slug": "media", **body})
        assert r.status_code == 202, r.text
        return r.json()

    return start


@pytest.fixture
def sync_once(api: TestClient, start_sync: Callable) -> Callable:
    def run(**body: Any) -> dict[str, Any]:
        return wait_for(api, start_sync(**body)["id"])

    return run
