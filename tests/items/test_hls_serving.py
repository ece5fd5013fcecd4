"""HLS served by the real app: each playlist's segment lines are rewritten on every request
(moorage's own segment URLs for local storage, URLs signed now for S3 on a moto server), and
every segment fetched through them decodes, frame counts matching the frames manifest."""

from __future__ import annotations

import calendar
import io
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import av
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from moorage.context import AppContext
from moorage.models import Job
from moorage.worker.tasks import process_job
from tests.conftest import make_team
from tests.helpers import REGISTER, make_storage
from tests.media.conftest import write_video
from tests.storage.conftest import moto_client, moto_endpoint  # noqa: F401 (the fixture)
from tests.worker.test_faults import wait_for

ITEMS = "/api/v2/teams/acme/items"


def run_jobs(ctx: AppContext) -> list[str]:
    with ctx.db.session() as session:
        ids = session.scalars(select(Job.id).where(Job.status == "queued")).all()
    return [process_job(ctx, job_id) for job_id in ids]


def register(api: TestClient, storage: str, key: str) -> dict:
    body = {"dataset_slug": "darwin-py", "storage_slug": storage, "items": [
        {"name": "clip.mp4", "storage_key": key}]}  # fmt: skip
    r = api.post(REGISTER, json=body)
    assert r.status_code == 200 and r.json()["blocked_items"] == [], r.text
    return r.json()["items"][0]


def segment_urls(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def frames_in(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


def manifest_counts(data: bytes) -> Counter[int]:
    return Counter(int(line.split(":")[1]) for line in data.decode().split("\n"))


def clip_bytes(tmp_path: Path, **kw: Any) -> bytes:
    return write_video(tmp_path / "clip.mp4", seconds=5, fps=10, gop=10, **kw).read_bytes()


@pytest.fixture
def local_item(api: TestClient, ctx: AppContext, dataset, bucket: Path, put_file, tmp_path) -> dict:
    make_storage(api)
    put_file("v/clip.mp4", clip_bytes(tmp_path, size=(96, 800)))
    item = register(api, "media", "v/clip.mp4")
    assert run_jobs(ctx) == ["done"]
    return api.get(f"{ITEMS}/{item['id']}").json()


class TestLocalStorage:
    def test_slot_is_streamable_with_two_playlists(self, local_item: dict) -> None:
        slot = local_item["slots"][0]
        assert slot["streamable"] is True
        assert set(slot["hls_segments"]) == {"high_quality", "low_quality"}
        assert "hls" not in slot["metadata"]
        assert slot["hls_segments"]["high_quality"]["url"].endswith("/hls/high/index.m3u8")

    def test_every_segment_of_both_playlists_decodes(
        self, api: TestClient, local_item: dict, bucket: Path
    ) -> None:
        slot = local_item["slots"][0]
        (manifest_file,) = bucket.parent.rglob("frames_manifest.txt")
        counts = manifest_counts(manifest_file.read_bytes())
        for name in ("high_quality", "low_quality"):
            r = api.get(slot["hls_segments"][name]["url"])
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
            assert r.headers["cache-control"] == "no-store"
            urls = segment_urls(r.text)
            assert len(urls) == len(counts) == 3
            quality = "high" if name == "high_quality" else "low"
            for n, url in enumerate(urls):
                assert url.endswith(f"/hls/{quality}/segments/{n}")  # moorage streams local files
                got = api.get(url)
                assert got.status_code == 200
                assert frames_in(got.content) == counts[n], (name, n)
        assert sum(counts.values()) == 50

    def test_another_team_gets_404(self, api: TestClient, ctx: AppContext, local_item) -> None:
        other = make_team(ctx, "rivals")
        playlist = local_item["slots"][0]["hls_segments"]["high_quality"]["url"]
        for path in (playlist, playlist.replace("index.m3u8", "segments/0")):
            theirs = path.replace("/teams/acme/", "/teams/rivals/")
            assert api.get(path, headers=other.headers).status_code == 404
            assert api.get(theirs, headers=other.headers).status_code == 404

    @pytest.mark.parametrize(
        ("suffix", "status", "field"),
        [
            ("hls/medium/index.m3u8", 422, "quality"),
            ("hls/high/segments/-1", 422, "segment"),
            ("hls/high/segments/abc", 422, "segment"),
            ("hls/high/segments/99999999999", 422, "segment"),
            ("hls/high/segments/3", 404, "segment"),
        ],
    )
    def test_bad_paths_are_named(
        self, api: TestClient, local_item: dict, suffix: str, status: int, field: str
    ) -> None:
        base = local_item["slots"][0]["hls_segments"]["high_quality"]["url"]
        r = api.get(base.replace("hls/high/index.m3u8", suffix))
        assert r.status_code == status, r.text
        assert field in r.text

    def test_unknown_item_and_slot_without_stream(self, api: TestClient, local_item) -> None:
        base = local_item["slots"][0]["hls_segments"]["high_quality"]["url"]
        assert api.get(base.replace(local_item["id"], str(uuid.uuid4()))).status_code == 404
        assert api.get(base.replace(local_item["id"], "not-a-uuid")).status_code == 404
        assert api.get(base.replace("/slots/0/", "/slots/nope/")).status_code == 404


class TestS3OnMoto:
    @pytest.fixture
    def s3_item(
        self,
        api: TestClient,
        ctx: AppContext,
        dataset,
        tmp_path: Path,
        moto_endpoint: str,  # noqa: F811
    ) -> dict:
        name = f"hls-{uuid.uuid4().hex[:10]}"
        s3 = moto_client(moto_endpoint)
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="v/clip.mp4", Body=clip_bytes(tmp_path))
        r = api.post(
            "/api/teams/acme/storage",
            json={
                "name": "s3",
                "slug": "s3",
                "provider": "minio",
                "bucket": name,
                "endpoint_url": moto_endpoint,
                "credentials": {"access_key_id": "test", "secret_access_key": "test"},
                "options": {"timeout": 5, "connect_timeout": 2, "max_retries": 1},
            },
        )
        assert r.status_code == 200, r.text
        item = register(api, "s3", "v/clip.mp4")
        assert run_jobs(ctx) == ["done"]
        detail = api.get(f"{ITEMS}/{item['id']}").json()
        manifest = next(
            o["Key"]
            for o in s3.list_objects_v2(Bucket=name)["Contents"]
            if o["Key"].endswith("frames_manifest.txt")
        )
        detail["manifest"] = s3.get_object(Bucket=name, Key=manifest)["Body"].read()
        return detail

    def test_signed_segments_decode(self, api: TestClient, s3_item: dict) -> None:
        counts = manifest_counts(s3_item["manifest"])
        slot = s3_item["slots"][0]
        for name in ("high_quality", "low_quality"):
            urls = segment_urls(api.get(slot["hls_segments"][name]["url"]).text)
            assert len(urls) == len(counts) == 3
            for n, url in enumerate(urls):
                assert "X-Amz-Signature" in url
                with urllib.request.urlopen(url, timeout=10) as answer:  # straight from moto
                    assert frames_in(answer.read()) == counts[n]

    def test_signed_afresh_on_every_request(self, api: TestClient, ctx, s3_item: dict) -> None:
        url = s3_item["slots"][0]["hls_segments"]["high_quality"]["url"]
        before = time.time()
        first = segment_urls(api.get(url).text)
        # the next request in a later second: SigV4 dates have one-second resolution
        assert wait_for(lambda: int(time.time()) > int(before), timeout=5)
        second = segment_urls(api.get(url).text)
        after = time.time()
        for a, b in zip(first, second, strict=True):
            qa, qb = parse_qs(urlparse(a).query), parse_qs(urlparse(b).query)
            assert qa["X-Amz-Signature"] != qb["X-Amz-Signature"]
            assert qa["X-Amz-Date"] < qb["X-Amz-Date"]
            for q in (qa, qb):  # signed at the request, for the configured lifetime
                signed = calendar.timegm(time.strptime(q["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ"))
                assert int(before) <= signed <= after
                assert q["X-Amz-Expires"] == [str(ctx.settings.signed_url_seconds)]
