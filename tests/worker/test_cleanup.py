"""Deleting items removes what moorage wrote (thumbnails, sections, segments, manifests, its
uploads) from the storage, as a job after the commit, retried through an outage; originals
are never deleted, nor anything in a read-only bucket or of another team."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from moorage.context import AppContext
from moorage.models import Cleanup, Job
from moorage.worker.cleanup import run_cleanup
from moorage.worker.runtime import Runtime
from moorage.worker.tasks import process_job
from tests.conftest import free_port, make_team
from tests.helpers import REGISTER, jpeg_bytes, make_video
from tests.storage.conftest import answers_http, moto_client, wait_until
from tests.worker.test_faults import wait_for

STORAGE = "/api/teams/acme/storage"
ITEMS = "/api/v2/teams/acme/items"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _storage(api: TestClient, slug: str, **body: Any) -> dict:
    body = {"name": slug, "slug": slug, "provider": "local", "bucket": slug, **body}
    r = api.post(STORAGE, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _register(api: TestClient, storage: str, items: list[dict], path: str = REGISTER) -> list:
    body = {"items": items, "dataset_slug": "darwin-py", "storage_slug": storage}
    r = api.post(path, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["blocked_items"] == [], r.json()
    return list(r.json()["items"])


def _run_jobs(ctx: AppContext) -> list[str]:
    with ctx.db.session() as session:
        ids = session.scalars(select(Job.id).where(Job.status == "queued")).all()
    return [process_job(ctx, job_id) for job_id in ids]


def _cleanups(ctx: AppContext) -> list[Cleanup]:
    with ctx.db.session() as session:
        rows = session.scalars(select(Cleanup).order_by(Cleanup.created_at)).all()
        session.expunge_all()
        return list(rows)


def _run_cleanups(ctx: AppContext) -> list[str]:
    return [run_cleanup(ctx, c.id) for c in _cleanups(ctx) if c.status == "queued"]


def _delete(api: TestClient, filters: dict, headers: dict | None = None) -> None:
    r = api.request("DELETE", ITEMS, json={"filters": filters}, headers=headers)
    assert r.status_code == 200, r.text


@pytest.fixture
def media(team_folder: Path) -> Path:
    folder = team_folder / "media"
    folder.mkdir()
    (folder / "cars").mkdir()
    (folder / "cars/a.jpg").write_bytes(jpeg_bytes(640, 480))
    (folder / "cars/b.jpg").write_bytes(jpeg_bytes(320, 240))
    (folder / "clip.mp4").write_bytes(make_video(seconds=1, fps=10))
    return folder


class TestLocal:
    def test_delete_removes_derivatives_and_keeps_originals(
        self, api: TestClient, ctx: AppContext, dataset, media: Path
    ) -> None:
        originals = _tree(media)
        _storage(api, "media")
        a, clip, b = _register(
            api,
            "media",
            [
                {"name": "a.jpg", "storage_key": "cars/a.jpg"},
                {"name": "clip.mp4", "storage_key": "clip.mp4"},
                {"name": "b.jpg", "storage_key": "cars/b.jpg"},
            ],
        )
        assert _run_jobs(ctx) == ["done"] * 3
        made = set(_tree(media)) - set(originals)
        assert any(k.startswith(f"moorage/{clip['id']}/files/") for k in made)
        assert any(k.startswith(f"moorage/{a['id']}/files/") for k in made)

        _delete(api, {"item_ids": [a["id"], clip["id"]]})
        assert [c.status for c in _cleanups(ctx)] == ["queued"]  # committed with the delete
        assert _run_cleanups(ctx) == ["done"]
        left = _tree(media)
        assert {k: left[k] for k in originals} == originals  # every original, byte for byte
        assert not [
            k for k in left if k.startswith((f"moorage/{a['id']}", f"moorage/{clip['id']}"))
        ]
        assert [k for k in left if k.startswith(f"moorage/{b['id']}/files/")]  # b stays whole
        assert api.get(f"{ITEMS}/{b['id']}").status_code == 200
        assert _run_cleanups(ctx) == []  # done once

    def test_an_upload_under_the_items_folder_goes_an_original_elsewhere_stays(
        self, api: TestClient, ctx: AppContext, dataset, media: Path
    ) -> None:
        """An original outside the item's folder is kept even when a stored derivative key
        names it; a file moorage wrote under the item's folder (an upload) is deleted."""
        _storage(api, "media")
        (item,) = _register(api, "media", [{"name": "a.jpg", "storage_key": "cars/a.jpg"}])
        assert _run_jobs(ctx) == ["done"]
        upload = media / "moorage" / item["id"] / "uploads" / "a.jpg"
        upload.parent.mkdir(parents=True)
        upload.write_bytes(b"moorage wrote this")
        _delete(api, {"item_names": ["a.jpg"]})
        assert _run_cleanups(ctx) == ["done"]
        assert not (media / "moorage" / item["id"]).exists() or not _tree(
            media / "moorage" / item["id"]
        )
        assert (media / "cars/a.jpg").read_bytes() == jpeg_bytes(640, 480)

    def test_an_uploaded_file_is_deleted_with_its_item(
        self, api: TestClient, ctx: AppContext, dataset, media: Path
    ) -> None:
        """A file pushed through register_upload is moorage's: it goes with its item, while a
        registered original in the same storage stays."""
        from tests.uploads.test_endpoints import put, register, sign

        originals = _tree(media)
        _storage(api, "media")
        (kept,) = _register(api, "media", [{"name": "a.jpg", "storage_key": "cars/a.jpg"}])
        (pushed,) = register(api, "pushed.jpg")
        upload_id = pushed["slots"][0]["upload_id"]
        assert put(api, sign(api, upload_id), jpeg_bytes(64, 48)).status_code == 200
        assert api.post(f"{ITEMS}/uploads/{upload_id}/confirm", json={}).status_code == 200
        assert _run_jobs(ctx) == ["done", "done"]
        uploaded = [k for k in _tree(media) if k.startswith(f"uploads/{upload_id}/")]
        assert uploaded, "the upload landed under uploads/"
        _delete(api, {"item_ids": [pushed["id"]]})
        assert _run_cleanups(ctx) == ["done"]
        left = _tree(media)
        assert not [
            k for k in left if k.startswith((f"uploads/{upload_id}", f"moorage/{pushed['id']}"))
        ]
        assert {k: left[k] for k in originals} == originals
        assert [k for k in left if k.startswith(f"moorage/{kept['id']}/files/")]

    def test_read_only_bucket_is_never_touched(
        self, api: TestClient, ctx: AppContext, dataset, media: Path
    ) -> None:
        """Supplied derivatives in a read-only bucket are the customer's: no cleanup at all."""
        _storage(api, "media", readonly=True)
        (media / "thumbs").mkdir()
        (media / "thumbs/a.jpg").write_bytes(jpeg_bytes(100, 80))
        before = _tree(media)
        items = [
            {
                "name": "a.jpg",
                "slots": [
                    {
                        "slot_name": "0",
                        "file_name": "a.jpg",
                        "storage_key": "cars/a.jpg",
                        "storage_thumbnail_key": "thumbs/a.jpg",
                        "width": 640,
                        "height": 480,
                    }
                ],
            }
        ]
        _register(api, "media", items, path=REGISTER + "_readonly")
        _delete(api, {"item_names": ["a.jpg"]})
        assert _cleanups(ctx) == []
        assert _tree(media) == before

    def test_derivatives_storage_of_a_read_only_bucket_is_cleaned(
        self, api: TestClient, ctx: AppContext, dataset, media: Path, team_folder: Path
    ) -> None:
        derived = team_folder / "derived"
        derived.mkdir()
        before = _tree(media)
        _storage(api, "media")
        _storage(api, "derived", prefix="out")
        (item,) = _register(api, "media", [{"name": "a.jpg", "storage_key": "cars/a.jpg"}])
        r = api.patch(f"{STORAGE}/media", json={"readonly": True, "derivatives_storage": "derived"})
        assert r.status_code == 200, r.text
        assert _run_jobs(ctx) == ["done"]
        assert _tree(derived)
        _delete(api, {"item_ids": [item["id"]]})
        assert _run_cleanups(ctx) == ["done"]
        assert _tree(derived) == {}
        assert _tree(media) == before

    def test_another_teams_items_and_files_are_untouched(
        self, api: TestClient, ctx: AppContext, dataset, media: Path
    ) -> None:
        _storage(api, "media")
        (item,) = _register(api, "media", [{"name": "a.jpg", "storage_key": "cars/a.jpg"}])
        assert _run_jobs(ctx) == ["done"]
        before = _tree(media)
        rival = make_team(ctx, "rival")
        r = api.request(
            "DELETE",
            ITEMS,
            json={"filters": {"item_ids": [item["id"]]}},
            headers=rival.headers,
        )
        assert r.status_code == 404  # rival's key on acme's path
        # rival's own delete naming acme's item by id touched nothing
        r = api.request(
            "DELETE",
            "/api/v2/teams/rival/items",
            json={"filters": {"item_ids": [item["id"]]}},
            headers=rival.headers,
        )
        assert r.status_code == 200
        assert _cleanups(ctx) == []
        assert _tree(media) == before
        assert api.get(f"{ITEMS}/{item['id']}").status_code == 200

    def test_hostile_delete_bodies_name_the_field(self, api: TestClient) -> None:
        for body, field in [
            ([], "filters"),
            ({"filters": {}}, "filters"),
            ({"filters": {"item_ids": ["nope"]}}, "item_ids"),
            ({"filters": {"dataset_ids": [2**40]}}, "dataset_ids"),
        ]:
            r = api.request("DELETE", ITEMS, json=body)
            assert r.status_code == 400, r.text
            assert field in r.json()["error"]["field"]


@pytest.fixture
def moto_restartable() -> Iterator[dict[str, Any]]:
    """A moto server of this test alone, on a fixed port, that the test stops and starts."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    state: dict[str, Any] = {"endpoint": f"http://127.0.0.1:{port}"}

    def start() -> None:
        state["server"] = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        state["server"].start()
        wait_until(answers_http(state["endpoint"] + "/moto-api/"), timeout=15, what="moto")

    def stop() -> None:
        state["server"].stop()

    state["start"], state["stop"] = start, stop
    start()
    yield state
    stop()


class TestS3:
    def test_outage_during_the_delete_job_is_retried_then_done(
        self,
        api: TestClient,
        ctx: AppContext,
        dataset,
        moto_restartable: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch,
        runtime: Runtime,
    ) -> None:
        endpoint = moto_restartable["endpoint"]
        name = f"b-{uuid.uuid4().hex[:10]}"
        s3 = moto_client(endpoint)
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="photos/a.jpg", Body=jpeg_bytes(640, 480))
        s3.put_object(Bucket=name, Key="photos/b.jpg", Body=jpeg_bytes(320, 240))
        r = api.post(
            STORAGE,
            json={
                "name": "s3",
                "provider": "minio",
                "bucket": name,
                "endpoint_url": endpoint,
                "credentials": {"access_key_id": "test", "secret_access_key": "test"},
                "options": {"timeout": 3, "connect_timeout": 1, "max_retries": 0},
            },
        )
        assert r.status_code == 200, r.text
        a, b = _register(
            api,
            "s3",
            [
                {"name": "a.jpg", "storage_key": "photos/a.jpg"},
                {"name": "b.jpg", "storage_key": "photos/b.jpg"},
            ],
        )

        def keys() -> list[str]:
            return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", []))

        def status(item: dict) -> str:
            return str(api.get(f"{ITEMS}/{item['id']}").json()["processing_status"])

        assert wait_for(lambda: status(a) == status(b) == "complete")
        assert [k for k in keys() if k.startswith(f"moorage/{a['id']}/files/")]

        monkeypatch.setattr("moorage.worker.runtime.RETRY_MAX_MS", 200)
        monkeypatch.setattr("moorage.worker.runtime.RETRY_MIN_MS", 100)
        moto_restartable["stop"]()
        _delete(api, {"item_ids": [a["id"]]})
        retried = wait_for(lambda: [c for c in _cleanups(ctx) if c.attempts >= 2], timeout=30)
        assert retried and retried[0].status in ("queued", "running")
        assert retried[0].error and retried[0].error["reason"]
        moto_restartable["start"]()
        assert wait_for(lambda: [c.status for c in _cleanups(ctx)] == ["done"], timeout=30)
        left = keys()
        assert "photos/a.jpg" in left and "photos/b.jpg" in left
        assert not [k for k in left if k.startswith(f"moorage/{a['id']}/")]
        assert [k for k in left if k.startswith(f"moorage/{b['id']}/files/")]


class TestNothingLost:
    def test_a_cleanup_committed_while_no_worker_ran_is_done_by_the_next_one(
        self, api: TestClient, ctx: AppContext, dataset, media: Path
    ) -> None:
        _storage(api, "media")
        (item,) = _register(api, "media", [{"name": "a.jpg", "storage_key": "cars/a.jpg"}])
        assert _run_jobs(ctx) == ["done"]
        _delete(api, {"item_ids": [item["id"]]})  # no dispatcher: the message never left
        assert [c.status for c in _cleanups(ctx)] == ["queued"]
        runtime = Runtime(ctx, broker_url=None, threads=1)
        runtime.install()
        runtime.start_workers(reconcile_every=3600)  # starts with a reconcile round
        try:
            assert wait_for(lambda: [c.status for c in _cleanups(ctx)] == ["done"])
        finally:
            runtime.stop()
        assert not [k for k in _tree(media) if k.startswith(f"moorage/{item['id']}")]
        assert (media / "cars/a.jpg").exists()

    def test_a_run_that_died_is_taken_back_and_done_again(
        self, api: TestClient, ctx: AppContext, dataset, media: Path
    ) -> None:
        from datetime import timedelta

        from sqlalchemy import update

        from moorage.models.base import utcnow
        from moorage.worker.cleanup import reconcile_cleanups

        _storage(api, "media")
        (item,) = _register(api, "media", [{"name": "a.jpg", "storage_key": "cars/a.jpg"}])
        assert _run_jobs(ctx) == ["done"]
        _delete(api, {"item_ids": [item["id"]]})
        (row,) = _cleanups(ctx)
        long_ago = utcnow() - timedelta(hours=1)
        with ctx.db.session() as session:  # a worker claimed it, then was killed
            session.execute(
                update(Cleanup)
                .where(Cleanup.id == row.id)
                .values(status="running", attempts=1, updated_at=long_ago)
            )
        sent: list[tuple[uuid.UUID, int]] = []
        assert reconcile_cleanups(ctx, sent.extend, all_queued=True) == 1
        assert sent == [(row.id, 1)]
        assert reconcile_cleanups(ctx, sent.extend, all_queued=False) == 0  # sent once
        assert run_cleanup(ctx, row.id, attempt=0) == "skipped"  # a stale message
        assert run_cleanup(ctx, row.id, attempt=1) == "done"
        assert not [k for k in _tree(media) if k.startswith(f"moorage/{item['id']}")]


class TestManyFiles:
    def test_a_folder_of_many_pages_is_deleted_whole(
        self, api: TestClient, ctx: AppContext, dataset, media: Path
    ) -> None:
        """Past one listing page (1,000 keys): the walk resumes after the keys it deleted."""
        _storage(api, "media")
        (item,) = _register(api, "media", [{"name": "a.jpg", "storage_key": "cars/a.jpg"}])
        assert _run_jobs(ctx) == ["done"]
        slot = api.get(f"{ITEMS}/{item['id']}").json()["slots"][0]
        sections = media / "moorage" / item["id"] / "files" / slot["id"] / "sections" / "high"
        sections.mkdir(parents=True)
        for i in range(2_345):  # what a long video writes
            (sections / f"{i:09d}.jpg").write_bytes(b"x")
        _delete(api, {"item_ids": [item["id"]]})
        assert _run_cleanups(ctx) == ["done"]
        (row,) = _cleanups(ctx)
        assert row.deleted >= 2_346
        assert not [k for k in _tree(media) if k.startswith(f"moorage/{item['id']}")]
