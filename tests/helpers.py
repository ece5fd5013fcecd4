from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydicom.data import get_testdata_file


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def bucket(team_folder: Path) -> Path:
    """The folder of the local bucket ``media`` of team ``acme``: ``<root>/acme/media``."""
    path = team_folder / "media"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def put_file(bucket: Path) -> Callable[..., str]:
    """Write a real file into the local bucket; returns its storage key."""

    def put(key: str, data: bytes | None = None, *, dicom: str | None = None) -> str:
        target = bucket / key
        target.parent.mkdir(parents=True, exist_ok=True)
        if dicom is not None:
            shutil.copyfile(str(get_testdata_file(dicom)), target)
        else:
            target.write_bytes(jpeg_bytes() if data is None else data)
        return key

    return put


def make_storage(
    api: TestClient, *, slug: str = "media", readonly: bool = False, name: str = "My Bucket"
) -> dict:
    r = api.post(
        "/api/teams/acme/storage",
        json={
            "name": name,
            "slug": slug,
            "provider": "local",
            "bucket": "media",
            "readonly": readonly,
        },
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def dataset(api: TestClient) -> dict:
    r = api.post("/api/datasets", json={"name": "Darwin Py"})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def rw_storage(api: TestClient, bucket: Path) -> dict:
    return make_storage(api)


@pytest.fixture
def ro_storage(api: TestClient, bucket: Path) -> dict:
    return make_storage(api, readonly=True)


REGISTER = "/api/v2/teams/acme/items/register_existing"


def make_video(seconds: float = 4, fps: int = 25, width: int = 160, height: int = 120) -> bytes:
    """A real H.264 MP4 made with PyAV: a moving gradient, ``seconds * fps`` frames."""
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.zeros((height, width, 3), dtype=np.uint8)
            img[:, :, 0] = (np.arange(width) + i * 4) % 256
            img[:, :, 1] = i % 256
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()
