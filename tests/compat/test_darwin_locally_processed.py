"""darwin-py 3.6.3's ``register_locally_processed``, run as the real client against a live
moorage: darwin-py extracts HLS segments, frames and a manifest with its own ffmpeg, uploads
them with boto3 to an S3 bucket on a moto server (``AWS_ENDPOINT_URL``, fake credentials),
and registers them read-only; moorage then serves the item's frames and segments."""

from __future__ import annotations

import io
import subprocess
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import av
import pytest
import requests

from tests.conftest import LiveServer, make_team
from tests.storage.conftest import moto_client, moto_endpoint  # noqa: F401 (the fixture)


@pytest.fixture
def darwin_s3(
    live_server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    moto_endpoint: str,  # noqa: F811
) -> tuple:
    monkeypatch.setenv("DARWIN_BASE_URL", live_server.url)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DARWIN_RETRY_MAX_ATTEMPTS", "1")
    # darwin-py's boto3 upload: to moto, with fake credentials
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    bucket = f"local-{uuid.uuid4().hex[:10]}"
    moto_client(moto_endpoint).create_bucket(Bucket=bucket)
    team = make_team(live_server.ctx, "acme")
    headers = {**team.headers, "Content-Type": "application/json"}
    url = live_server.url
    r = requests.post(f"{url}/api/datasets", json={"name": "Videos"}, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(
        f"{url}/api/teams/acme/storage",
        headers=headers,
        timeout=10,
        json={
            "name": "Footage",
            "slug": "footage",
            "provider": "aws",
            "bucket": bucket,
            "prefix": "darwin",
            "region": "us-east-1",
            "endpoint_url": moto_endpoint,
            "credentials": {"access_key_id": "test", "secret_access_key": "test"},
            "readonly": True,
        },
    )
    assert r.status_code == 200, r.text
    from darwin.client import Client

    return Client.from_api_key(team.api_key), team, live_server, bucket


def make_clip(path: Path) -> Path:
    """5 s of ffmpeg's testsrc2 at 10 fps with a keyframe a second, and a sine sound track."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10"]
    cmd += ["-f", "lavfi", "-i", "sine=frequency=440", "-t", "5", "-c:v", "libx264", "-g", "10"]
    cmd += ["-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)]
    subprocess.run(cmd, check=True, timeout=60)
    return path


def frames_in(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_register_locally_processed_then_serve(darwin_s3, tmp_path: Path, moto_endpoint) -> None:  # noqa: F811
    client, team, server, bucket = darwin_s3
    clip = make_clip(tmp_path / "drive.mp4")
    dataset = client.get_remote_dataset("videos")
    storage = client.get_external_storage(name="Footage")
    assert (storage.provider, storage.readonly) == ("aws", True)

    result = dataset.register_locally_processed(storage, [str(clip)], primary_frames_quality=3)
    assert result["blocked"] == [] and len(result["registered"]) == 1, result

    s = requests.Session()
    s.headers.update(team.headers)
    base = f"{server.url}/api/v2/teams/acme/items"
    (item,) = s.get(base, params={"dataset_ids": dataset.dataset_id}, timeout=10).json()["items"]
    detail = s.get(f"{base}/{item['id']}", timeout=10).json()
    slot = detail["slots"][0]
    assert slot["streamable"] is True and slot["total_sections"] == 50
    assert slot["metadata"]["total_frames"] == 50 and "hls" not in slot["metadata"]
    assert slot["metadata"]["storage_audio_peaks_key"].endswith("/audio_peaks.gz")

    # frames: section 1 is darwin-py's frame 000000000
    first = slot["sections"][0]
    got = s.get(first["hq_url"], timeout=10)
    assert got.status_code == 200 and got.content[:2] == b"\xff\xd8"
    s3 = moto_client(moto_endpoint)
    prefix = slot["storage_key"].rsplit("/", 1)[0]
    frame0 = s3.get_object(Bucket=bucket, Key=f"{prefix}/sections/high/000000000.jpg")
    assert got.content == frame0["Body"].read()
    assert s.get(slot["sections"][-1]["lq_url"], timeout=10).status_code == 200

    # segments: every one, through the re-signed playlist, frame counts as in the manifest
    manifest = s3.get_object(Bucket=bucket, Key=f"{prefix}/frames_manifest.txt")["Body"].read()
    counts = Counter(int(line.split(":")[1]) for line in manifest.decode().split("\n"))
    for name in ("high_quality", "low_quality"):
        text = s.get(slot["hls_segments"][name]["url"], timeout=10).text
        urls = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        assert len(urls) == len(counts) >= 2
        for n, url in enumerate(urls):
            assert url.startswith(moto_endpoint) and "X-Amz-Signature" in url
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert frames_in(answer.read()) == counts[n], (name, n)
