"""register_existing_readonly with darwin-py's locally processed video fields.

The artifacts are darwin-py's own: its ``extract_artifacts`` (ffmpeg CLI) run once on a real
clip, its ``_extract_video_slot_metadata`` making the slot payload, as
``register_locally_processed`` does; they sit in a read-only local storage.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_team
from tests.helpers import make_storage

READONLY = "/api/v2/teams/acme/items/register_existing_readonly"
PREFIX = "darwin/item-1/files/slot-1"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """(folder holding PREFIX/..., the slot payload darwin-py sends)."""
    from darwin.dataset.remote_dataset_v2 import RemoteDatasetV2
    from darwin.extractor.video import extract_artifacts

    root = tmp_path_factory.mktemp("local-video")
    clip = root / "clip.mp4"
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10"]
    cmd += ["-t", "4", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", str(clip)]
    subprocess.run(cmd, check=True, timeout=60)
    out = root / PREFIX
    meta = extract_artifacts(str(clip), str(out), PREFIX, fps=5.0, primary_frames_quality=3)
    shutil.copy(clip, out / "clip.mp4")
    slot = RemoteDatasetV2._extract_video_slot_metadata(None, meta["registration_payload"])  # type: ignore[arg-type]
    return root, {"slot_name": "clip.mp4", "file_name": "clip.mp4", **slot}


@pytest.fixture
def put_artifacts(bucket: Path, artifacts) -> dict[str, Any]:
    root, slot = artifacts
    shutil.copytree(root / "darwin", bucket / "darwin")
    return copy.deepcopy(slot)


def register(api: TestClient, slot: dict[str, Any], name: str = "clip.mp4") -> dict:
    body = {"dataset_slug": "darwin-py", "storage_slug": "media",
            "items": [{"name": name, "path": "/", "slots": [slot]}]}  # fmt: skip
    r = api.post(READONLY, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def blocked(body: dict) -> tuple[str, str, str]:
    (item,) = body["blocked_items"]
    slot = item["slots"][0]
    return slot["reason"], slot.get("field", ""), slot["message"]


@pytest.fixture
def ro(api: TestClient, dataset, bucket: Path) -> None:
    make_storage(api, readonly=True)


class TestAccepted:
    def test_registered_with_sections_stream_and_counts(
        self, api: TestClient, ro, put_artifacts: dict, bucket: Path
    ) -> None:
        body = register(api, put_artifacts)
        assert body["blocked_items"] == []
        (item,) = body["items"]
        slot = item["slots"][0]
        assert slot["streamable"] is True and "hls" not in slot["metadata"]
        # fps 5 from a 10 fps clip: every other frame is visible
        assert (slot["metadata"]["total_frames"], slot["total_sections"]) == (40, 20)
        detail = api.get(f"/api/v2/teams/acme/items/{item['id']}").json()
        sections = detail["slots"][0]["sections"]
        assert len(sections) == 20
        frames = bucket / PREFIX / "sections"
        assert (
            api.get(sections[0]["hq_url"]).content == (frames / "high/000000000.jpg").read_bytes()
        )
        assert (
            api.get(sections[19]["lq_url"]).content == (frames / "low/000000019.jpg").read_bytes()
        )

    def test_playlist_is_served_with_moorage_segment_urls(
        self, api: TestClient, ro, put_artifacts: dict, bucket: Path
    ) -> None:
        (item,) = register(api, put_artifacts)["items"]
        detail = api.get(f"/api/v2/teams/acme/items/{item['id']}").json()
        text = api.get(detail["slots"][0]["hls_segments"]["high_quality"]["url"]).text
        urls = [line for line in text.splitlines() if line and not line.startswith("#")]
        manifest = (bucket / PREFIX / "frames_manifest.txt").read_text()
        assert len(urls) == len(Counter(line.split(":")[1] for line in manifest.split("\n")))
        for n, url in enumerate(urls):
            got = api.get(url)
            assert got.status_code == 200
            assert got.content == (bucket / PREFIX / f"segments/high/{n:09d}.ts").read_bytes()

    def test_another_team_cannot_read_the_playlist(
        self, api: TestClient, ctx, ro, put_artifacts: dict
    ) -> None:
        (item,) = register(api, put_artifacts)["items"]
        url = f"/api/v2/teams/acme/items/{item['id']}/slots/clip.mp4/hls/low/index.m3u8"
        assert api.get(url).status_code == 200
        other = make_team(ctx, "rivals")
        assert api.get(url, headers=other.headers).status_code == 404
        theirs = url.replace("/teams/acme/", "/teams/rivals/")
        assert api.get(theirs, headers=other.headers).status_code == 404


class TestBlocked:
    @pytest.mark.parametrize(
        ("gone", "field"),
        [
            ("frames_manifest.txt", "storage_frames_manifest_key"),
            ("segments/high/000000001.ts", "hls_segments.high_quality.index"),
            ("segments/low/000000000.ts", "hls_segments.low_quality.index"),
            ("sections/high/000000007.jpg", "storage_hq_key"),
            ("sections/low/000000019.jpg", "storage_lq_key"),
            ("thumbnail.jpg", "storage_thumbnail_key"),
        ],
    )
    def test_a_missing_key_blocks_the_item(
        self, api: TestClient, ro, put_artifacts: dict, bucket: Path, gone: str, field: str
    ) -> None:
        (bucket / PREFIX / gone).unlink()
        reason, named, message = blocked(register(api, put_artifacts))
        assert (reason, named) == ("STORAGE_KEY_NOT_FOUND", field)
        assert gone in message

    def test_manifest_must_match_the_counts(
        self, api: TestClient, ro, put_artifacts: dict, bucket: Path
    ) -> None:
        manifest = bucket / PREFIX / "frames_manifest.txt"
        manifest.write_text("\n".join(manifest.read_text().split("\n")[:-3]))
        reason, field, message = blocked(register(api, put_artifacts))
        assert (reason, field) == ("INVALID_FRAMES_MANIFEST", "storage_frames_manifest_key")
        assert "37 frames" in message

    def test_manifest_naming_a_segment_the_playlist_lacks(
        self, api: TestClient, ro, put_artifacts: dict, bucket: Path
    ) -> None:
        manifest = bucket / PREFIX / "frames_manifest.txt"
        lines = manifest.read_text().split("\n")
        lines[-1] = "9:99:" + lines[-1].split(":", 2)[2]
        manifest.write_text("\n".join(lines))
        reason, _, message = blocked(register(api, put_artifacts))
        assert reason == "INVALID_FRAMES_MANIFEST" and "segment 99" in message

    @pytest.mark.parametrize(
        ("change", "reason", "field"),
        [
            ({"total_frames": 0}, "INVALID_FIELD", "total_frames"),
            ({"visible_frames": "20"}, "INVALID_FIELD", "visible_frames"),
            ({"visible_frames": 41}, "INVALID_FIELD", "visible_frames"),
            ({"visible_frames": 10**7}, "INVALID_FIELD", "visible_frames"),
            ({"native_fps": "fast"}, "INVALID_FIELD", "native_fps"),
            ({"native_fps": -1}, "INVALID_FIELD", "native_fps"),
            ({"storage_sections_key_extension": "gif"}, "INVALID_FIELD",
             "storage_sections_key_extension"),
            ({"storage_frames_manifest_key": ""}, "INVALID_STORAGE_KEY",
             "storage_frames_manifest_key"),
            ({"storage_sections_key_prefix": 7}, "INVALID_STORAGE_KEY",
             "storage_sections_key_prefix"),
            ({"hls_segments": []}, "INVALID_FIELD", "hls_segments"),
            ({"hls_segments": {"high_quality": {"index": "x"}}}, "INVALID_FIELD",
             "hls_segments.high_quality.index"),
            ({"type": "image"}, "INVALID_FIELD", "type"),
            ({"width": None}, "INVALID_DIMENSIONS", "width"),
        ],
    )  # fmt: skip
    def test_hostile_fields_are_named(
        self, api: TestClient, ro, put_artifacts: dict, change: dict, reason: str, field: str
    ) -> None:
        slot = {**put_artifacts, **change}
        if change == {"width": None}:
            del slot["width"]
        got = blocked(register(api, slot))
        assert got[:2] == (reason, field), got

    def test_urls_and_escaping_keys_in_a_playlist(
        self, api: TestClient, ro, put_artifacts: dict
    ) -> None:
        for line, reason in (
            ("http://169.254.169.254/latest/meta-data", "INVALID_FIELD"),
            ("../../outside.ts", "INVALID_STORAGE_KEY"),
        ):
            slot = copy.deepcopy(put_artifacts)
            hq = slot["hls_segments"]["high_quality"]
            hq["index"] = hq["index"].replace(f"{PREFIX}/segments/high/000000000.ts", line)
            assert blocked(register(api, slot))[0] == reason

    def test_a_too_long_video_is_refused_before_any_key_is_checked(
        self, api: TestClient, ro, put_artifacts: dict, ctx, monkeypatch
    ) -> None:
        monkeypatch.setattr(ctx.settings, "max_frames_per_slot", 10)
        reason, field, _ = blocked(register(api, put_artifacts))
        assert (reason, field) == ("TOO_MANY_FRAMES", "visible_frames")
