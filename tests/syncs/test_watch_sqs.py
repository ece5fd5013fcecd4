"""A watching sync fed by real S3 event notifications: moto's S3 server notifies an SQS queue on
the same server (``QueueConfigurations``), the storage names the queue, and every change in the
bucket reaches the dataset without a listing pass (``poll_seconds`` is an hour)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from moorage.syncs import watch
from tests.helpers import jpeg_bytes
from tests.storage.conftest import free_port, moto_client, moto_endpoint  # noqa: F401  (a fixture)
from tests.storage.test_events_sqs import Wired, wire
from tests.syncs.conftest import SYNC, SYNCS, wait_for

ITEMS = "/api/v2/teams/acme/items"
#: every condition is awaited up to this long (the bar is 5 s; a loaded machine is slower)
DEADLINE = 30.0


@pytest.fixture
def wired(moto_endpoint: str) -> Wired:  # noqa: F811
    return wire(moto_client(moto_endpoint, "s3"), moto_client(moto_endpoint, "sqs"), moto_endpoint)


@pytest.fixture
def short_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of 3 s: the sync hands itself on several times in a test (and stops soon)."""
    monkeypatch.setattr(watch, "WINDOW_SECONDS", 3.0)


@pytest.fixture
def watching(
    api: TestClient, dataset: dict, wired: Wired, runtime: Any, short_windows: None
) -> Iterator[Callable[..., dict[str, Any]]]:
    r = api.post(
        "/api/teams/acme/storage",
        json={
            "name": "events",
            "slug": "events",
            "provider": "aws",
            "bucket": wired.bucket,
            "region": "us-east-1",
            "endpoint_url": wired.endpoint,
            "credentials": {"access_key_id": "test", "secret_access_key": "test"},
            "events": {"kind": "sqs", "queue_url": wired.queue_url, "region": "us-east-1"},
        },
    )
    assert r.status_code == 200, r.text
    started: list[str] = []

    def start(**body: Any) -> dict[str, Any]:
        r = api.post(
            SYNCS.format(dataset=dataset["slug"]),
            json={"storage_slug": "events", "watch": True, "poll_seconds": 3600, **body},
        )
        assert r.status_code == 202, r.text
        started.append(r.json()["id"])
        return wait_for(api, r.json()["id"], ("watching",))

    yield start
    for sync_id in started:  # the watch window stops at its next receive
        api.post(SYNC.format(id=sync_id) + "/cancel")


def items(api: TestClient, dataset: dict, **params: Any) -> dict[tuple[str, str], dict]:
    r = api.get(ITEMS, params={"dataset_ids": str(dataset["id"]), **params})
    assert r.status_code == 200, r.text
    return {(i["path"], i["name"]): i for i in r.json()["items"]}


def until(what: str, check: Callable[[], Any], timeout: float = DEADLINE) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def sync_of(api: TestClient, sync_id: str) -> dict[str, Any]:
    return dict(api.get(SYNC.format(id=sync_id)).json())


class TestWatchWithSqs:
    def test_put_overwrite_delete_restore_without_listing(
        self, api: TestClient, dataset: dict, wired: Wired, watching: Callable
    ) -> None:
        prefix = f"w-{uuid.uuid4().hex[:8]}/"
        wired.s3.put_object(Bucket=wired.bucket, Key=f"{prefix}first.jpg", Body=jpeg_bytes())
        sync = watching(prefix=prefix)
        assert sync["passes"] == 1 and sync["counts"]["registered"] == 1, sync
        # a key S3 sends URL-encoded (space as '+', UTF-8 escaped, a literal '+')
        key = f"{prefix}sub dir/é+b.jpg"
        where = ("/sub dir", "é+b.jpg")

        wired.s3.put_object(Bucket=wired.bucket, Key=key, Body=jpeg_bytes())
        item = until("the put object listed", lambda: items(api, dataset).get(where))
        assert "source_status" not in item

        wired.s3.put_object(Bucket=wired.bucket, Key=key, Body=jpeg_bytes(90, 70))
        until("the overwrite changed", lambda: sync_of(api, sync["id"])["counts"]["changed"] == 1)

        wired.s3.delete_object(Bucket=wired.bucket, Key=key)
        gone = until(
            "the deleted object missing",
            lambda: items(api, dataset, source_statuses="missing").get(where),
        )
        assert gone["id"] == item["id"] and gone["source_status"] == "missing"

        wired.s3.put_object(Bucket=wired.bucket, Key=key, Body=jpeg_bytes(90, 70))
        until("the object restored", lambda: sync_of(api, sync["id"])["counts"]["restored"] == 1)
        back = items(api, dataset)[where]
        assert back["id"] == item["id"] and "source_status" not in back
        assert items(api, dataset, source_statuses="missing") == {}

        body = sync_of(api, sync["id"])
        c = body["counts"]
        assert (c["registered"], c["changed"], c["missing"], c["restored"], c["blocked"]) == (
            2, 1, 1, 1, 0,
        ), c  # fmt: skip
        assert body["state"] == "watching"
        assert body["passes"] == 1, "no listing pass ran: the events did it all"
        assert len(items(api, dataset)) == 2
        until("every event acknowledged", lambda: wired.pending() == 0)

    def test_keys_outside_the_prefix_and_globs_are_left_alone(
        self, api: TestClient, dataset: dict, wired: Wired, watching: Callable
    ) -> None:
        sync = watching(prefix="in/", include=["*.jpg"])
        wired.s3.put_object(Bucket=wired.bucket, Key="out/a.jpg", Body=jpeg_bytes())
        wired.s3.put_object(Bucket=wired.bucket, Key="in/notes.txt", Body=b"x")
        wired.s3.put_object(Bucket=wired.bucket, Key="in/a.jpg", Body=jpeg_bytes())
        until("the wanted key listed", lambda: items(api, dataset).get(("/", "a.jpg")))
        until("every event acknowledged", lambda: wired.pending() == 0)
        assert list(items(api, dataset)) == [("/", "a.jpg")]
        c = sync_of(api, sync["id"])["counts"]
        assert (c["registered"], c["blocked"]) == (1, 0), c

    def test_a_sync_on_a_storage_without_a_queue_polls(
        self, api: TestClient, dataset: dict, wired: Wired, watching: Callable
    ) -> None:
        # the queue removed: the sync finds no event source and polls
        r = api.patch("/api/teams/acme/storage/events", json={"events": None})
        assert r.status_code == 200, r.text
        wired.s3.put_object(Bucket=wired.bucket, Key="p/a.jpg", Body=jpeg_bytes())
        sync = watching(prefix="p/", poll_seconds=1)
        wired.s3.put_object(Bucket=wired.bucket, Key="p/b.jpg", Body=jpeg_bytes())
        # the pass's pages are written before the pass is counted: await both
        until(
            "a polling pass registered the new key",
            lambda: (
                (b := sync_of(api, sync["id"]))["counts"]["registered"] == 2 and b["passes"] >= 2
            ),
        )

    def test_two_watching_syncs_of_one_queue_the_older_consumes_the_other_polls(
        self, api: TestClient, dataset: dict, wired: Wired, watching: Callable
    ) -> None:
        r = api.post("/api/datasets", json={"name": "Second"})
        assert r.status_code == 200, r.text
        second = r.json()
        first = watching(prefix="k/")
        r = api.post(
            SYNCS.format(dataset=second["slug"]),
            json={"storage_slug": "events", "prefix": "k/", "watch": True, "poll_seconds": 1},
        )
        assert r.status_code == 202, r.text
        other = wait_for(api, r.json()["id"], ("watching",))
        wired.s3.put_object(Bucket=wired.bucket, Key="k/a.jpg", Body=jpeg_bytes())
        # a queue hands a message to one receiver: both datasets get the key all the same
        until("listed in the first", lambda: items(api, dataset).get(("/", "a.jpg")))
        until("listed in the second", lambda: items(api, second).get(("/", "a.jpg")))
        polled = until(
            "the second polled", lambda: (b := sync_of(api, other["id"]))["passes"] >= 2 and b
        )
        assert polled["counts"]["registered"] == 1
        assert sync_of(api, first["id"])["passes"] == 1, "the first got it by event"
        api.post(SYNC.format(id=other["id"]) + "/cancel")

    def test_an_unreachable_queue_keeps_the_sync_watching_until_it_answers(
        self, api: TestClient, dataset: dict, wired: Wired, watching: Callable
    ) -> None:
        dead = f"http://127.0.0.1:{free_port()}/123456789012/nobody-listens"
        r = api.patch(
            "/api/teams/acme/storage/events", json={"events": {"kind": "sqs", "queue_url": dead}}
        )
        assert r.status_code == 200, r.text
        with capture_logs() as logs:
            sync = watching(prefix="u/")
            until(
                "the failure logged",
                lambda: any(e["event"] == "sync.events_unavailable" for e in list(logs)),
            )
        assert sync_of(api, sync["id"])["state"] == "watching"
        r = api.patch(
            "/api/teams/acme/storage/events",
            json={"events": {"kind": "sqs", "queue_url": wired.queue_url}},
        )
        assert r.status_code == 200, r.text
        wired.s3.put_object(Bucket=wired.bucket, Key="u/a.jpg", Body=jpeg_bytes())
        until("listed once the queue answers", lambda: items(api, dataset).get(("/", "a.jpg")))
        body = sync_of(api, sync["id"])
        assert body["state"] == "watching" and body["passes"] == 1, body
