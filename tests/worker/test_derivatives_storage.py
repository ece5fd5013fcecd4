"""A read-only storage's derivatives_storage: the workers write there, serving reads there.

The originals' storage is only read: its folder (or bucket) holds exactly what it held before.
Jobs are run by ``process_job`` directly (no dispatcher installed): what registration queued,
the worker of any process takes.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from moorage.context import AppContext
from moorage.models import Job, StorageConfig
from moorage.worker.tasks import process_job
from tests.conftest import make_team
from tests.helpers import REGISTER, jpeg_bytes, make_video
from tests.storage.conftest import moto_client, moto_endpoint  # noqa: F401 (the fixture)

STORAGE = "/api/teams/acme/storage"
ITEMS = "/api/v2/teams/acme/items"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _create(api: TestClient, slug: str, **body: Any) -> dict:
    body = {"name": slug, "slug": slug, "provider": "local", "bucket": slug, **body}
    r = api.post(STORAGE, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _register(api: TestClient, storage: str, items: list[dict], path: str = REGISTER) -> list[dict]:
    body = {"items": items, "dataset_slug": "darwin-py", "storage_slug": storage}
    r = api.post(path, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["blocked_items"] == [], r.json()
    return r.json()["items"]


def _make_read_only(api: TestClient, slug: str, derivatives: str | None) -> None:
    """What an operator does to a bucket the team may no longer write to."""
    r = api.patch(f"{STORAGE}/{slug}", json={"readonly": True, "derivatives_storage": derivatives})
    assert r.status_code == 200, r.text


def _run_jobs(ctx: AppContext) -> list[str]:
    with ctx.db.session() as session:
        ids = session.scalars(select(Job.id).where(Job.status == "queued")).all()
    return [process_job(ctx, job_id) for job_id in ids]


def _item(api: TestClient, item_id: str) -> dict:
    return api.get(f"{ITEMS}/{item_id}").json()


@pytest.fixture
def folders(team_folder: Path) -> tuple[Path, Path]:
    """Two folders of team acme: the originals, and where derivatives may go."""
    media, derived = team_folder / "media", team_folder / "derived"
    media.mkdir()
    derived.mkdir()
    return media, derived


class TestLocalOriginalsLocalDerivatives:
    def test_image_and_video_derivatives_go_to_the_derivatives_storage(
        self, api: TestClient, ctx: AppContext, dataset, folders
    ) -> None:
        media, derived = folders
        (media / "cars").mkdir()
        (media / "cars/big.jpg").write_bytes(jpeg_bytes(1600, 900))
        (media / "clip.mp4").write_bytes(make_video(seconds=1, fps=10))
        _create(api, "media")
        _create(api, "derived", prefix="thumbs")
        image, video = _register(
            api,
            "media",
            [
                {"name": "big.jpg", "storage_key": "cars/big.jpg"},
                {"name": "clip.mp4", "storage_key": "clip.mp4"},
            ],
        )
        _make_read_only(api, "media", "derived")
        before = _tree(media)

        assert _run_jobs(ctx) == ["done", "done"]
        assert _tree(media) == before  # the originals' folder is only read
        done = _item(api, image["id"])
        assert (done["status"], done["processing_status"]) == ("new", "complete")
        slot = done["slots"][0]
        thumb = derived / "thumbs" / image["id"] / "files" / slot["id"] / "thumbnail.jpg"
        with Image.open(thumb) as made:
            assert made.size == (356, 200)
        assert api.get(slot["thumbnail_url"]).content == thumb.read_bytes()
        assert api.get(slot["file_url"]).content == (media / "cars/big.jpg").read_bytes()

        clip = _item(api, video["id"])
        section = clip["slots"][0]["sections"][0]
        assert clip["slots"][0]["total_sections"] == 10
        folder = derived / "thumbs" / video["id"] / "files" / clip["slots"][0]["id"]
        served = api.get(section["hq_url"])
        assert served.status_code == 200
        assert served.content in {p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def test_item_json_is_the_read_write_shape(
        self, api: TestClient, ctx: AppContext, dataset, folders
    ) -> None:
        media, _ = folders
        (media / "a.jpg").write_bytes(jpeg_bytes(64, 48))
        _create(api, "media")
        _create(api, "derived")
        plain, moved = _register(
            api,
            "media",
            [
                {"name": "plain.jpg", "storage_key": "a.jpg"},
                {"name": "moved.jpg", "storage_key": "a.jpg"},
            ],
        )
        with ctx.db.session() as session:
            first = session.scalars(
                select(Job.id).where(Job.item_id == uuid.UUID(plain["id"]))
            ).one()
        assert process_job(ctx, first) == "done"  # while read-write: under media's own prefix
        _make_read_only(api, "media", "derived")
        assert _run_jobs(ctx) == ["done"]
        a, b = _item(api, plain["id"]), _item(api, moved["id"])
        assert set(a) == set(b) and set(a["slots"][0]) == set(b["slots"][0])
        assert a["slots"][0]["metadata"] == b["slots"][0]["metadata"]
        # the item made while read-write still serves from media, the other from derived
        assert api.get(a["slots"][0]["thumbnail_url"]).status_code == 200
        assert api.get(b["slots"][0]["thumbnail_url"]).status_code == 200
        assert (media / "moorage" / plain["id"]).is_dir()
        assert not (media / "moorage" / moved["id"]).exists()

    def test_supplied_derivatives_stay_in_the_originals_storage(
        self, api: TestClient, ctx: AppContext, dataset, folders
    ) -> None:
        media, _ = folders
        (media / "a.jpg").write_bytes(jpeg_bytes(64, 48))
        (media / "a_thumb.jpg").write_bytes(jpeg_bytes(8, 6))
        _create(api, "derived")
        _create(api, "media", readonly=True, derivatives_storage="derived")
        readonly = REGISTER.replace("register_existing", "register_existing_readonly")
        (item,) = _register(
            api,
            "media",
            [
                {
                    "name": "a.jpg",
                    "storage_key": "a.jpg",
                    "storage_thumbnail_key": "a_thumb.jpg",
                    "width": 64,
                    "height": 48,
                }
            ],
            path=readonly,
        )
        assert _run_jobs(ctx) == []
        thumb = api.get(_item(api, item["id"])["slots"][0]["thumbnail_url"])
        assert thumb.status_code == 200 and thumb.content == (media / "a_thumb.jpg").read_bytes()

    def test_registration_on_it_queues_processing(
        self, api: TestClient, ctx: AppContext, dataset, folders
    ) -> None:
        media, derived = folders
        (media / "a.jpg").write_bytes(jpeg_bytes(64, 48))
        _create(api, "derived")
        _create(api, "media", readonly=True, derivatives_storage="derived")
        (item,) = _register(api, "media", [{"name": "a.jpg", "storage_key": "a.jpg"}])
        assert item["status"] == "processing"
        assert _run_jobs(ctx) == ["done"]
        assert (derived / "moorage" / item["id"]).is_dir()
        assert not (media / "moorage").exists()


class TestNeverWritesTheReadOnlyStorage:
    def test_without_a_derivatives_storage_the_job_fails(
        self, api: TestClient, ctx: AppContext, dataset, folders
    ) -> None:
        media, _ = folders
        (media / "a.jpg").write_bytes(jpeg_bytes(64, 48))
        _create(api, "media")
        (item,) = _register(api, "media", [{"name": "a.jpg", "storage_key": "a.jpg"}])
        _make_read_only(api, "media", None)
        before = _tree(media)
        assert _run_jobs(ctx) == ["error"]
        assert _tree(media) == before
        failed = _item(api, item["id"])
        assert failed["processing_error"]["reason"] == "STORAGE_READ_ONLY"

    def test_another_teams_storage_is_never_written(
        self, api: TestClient, client: TestClient, ctx: AppContext, dataset, folders, storage_root
    ) -> None:
        """Even a link that bypassed the API (a bad row) reaches only the item's own team."""
        media, _ = folders
        (media / "a.jpg").write_bytes(jpeg_bytes(64, 48))
        theirs = storage_root / "other" / "theirs"
        theirs.mkdir(parents=True)
        other = make_team(ctx, "other")
        body = {"name": "theirs", "provider": "local", "bucket": "theirs"}
        assert (
            client.post("/api/teams/other/storage", json=body, headers=other.headers).status_code
            == 200
        )
        _create(api, "media")
        _register(api, "media", [{"name": "a.jpg", "storage_key": "a.jpg"}])
        with ctx.db.session() as session:
            rows = {s.slug: s for s in session.scalars(select(StorageConfig)).all()}
            rows["media"].readonly = True
            rows["media"].derivatives_storage_id = rows["theirs"].id
        assert _run_jobs(ctx) == ["error"]
        assert _tree(theirs) == {}
        assert api.get(f"{STORAGE}/media").json()["derivatives_storage"] is None


class TestS3OriginalsLocalDerivatives:
    def test_moto_bucket_is_only_read(
        self,
        api: TestClient,
        ctx: AppContext,
        dataset,
        folders,
        moto_endpoint: str,  # noqa: F811
    ) -> None:
        _, derived = folders
        name = f"orig-{uuid.uuid4().hex[:10]}"
        creds = {"access_key_id": "test", "secret_access_key": "test"}
        s3 = moto_client(moto_endpoint)
        s3.create_bucket(Bucket=name)
        original = jpeg_bytes(800, 600)
        s3.put_object(Bucket=name, Key="photos/a b+c.jpg", Body=original)
        r = api.post(
            STORAGE,
            json={
                "name": "raw",
                "provider": "minio",
                "bucket": name,
                "endpoint_url": moto_endpoint,
                "credentials": creds,
                "options": {"timeout": 5, "connect_timeout": 2, "max_retries": 1},
            },
        )
        assert r.status_code == 200, r.text
        _create(api, "derived")
        (item,) = _register(api, "raw", [{"name": "a.jpg", "storage_key": "photos/a b+c.jpg"}])
        _make_read_only(api, "raw", "derived")

        assert _run_jobs(ctx) == ["done"]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])]
        assert keys == ["photos/a b+c.jpg"]
        slot = _item(api, item["id"])["slots"][0]
        thumb = derived / "moorage" / item["id"] / "files" / slot["id"] / "thumbnail.jpg"
        assert api.get(slot["thumbnail_url"]).content == thumb.read_bytes()
        with Image.open(thumb) as made:
            assert made.height == 200
