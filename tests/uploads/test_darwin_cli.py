"""The darwin CLI (darwin-py 3.6.3, a real process) uploads to a live moorage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from pydicom.data import get_testdata_file

from tests.conftest import LiveServer, make_team
from tests.helpers import jpeg_bytes, make_video
from tests.worker.test_faults import wait_for

DARWIN = str(Path(sys.executable).parent / "darwin")


@pytest.fixture
def darwin_cli(working_server: LiveServer, tmp_path: Path, bucket: Path):
    """Runs ``darwin ...`` as its own process, authenticated as team acme."""
    team = make_team(working_server.ctx, "acme")
    r = requests.post(
        f"{working_server.url}/api/teams/acme/storage",
        headers=team.headers,
        timeout=10,
        json={"name": "Uploads", "slug": "uploads", "provider": "local", "bucket": "media"},
    )
    assert r.status_code == 200, r.text
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "DARWIN_BASE_URL": working_server.url,
        "DARWIN_RETRY_MAX_ATTEMPTS": "1",
        "DARWIN_RETRY_INITIAL_WAIT": "1",
    }
    env.pop("DARWIN_API_KEY", None)

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DARWIN, *args], env=env, input=stdin, capture_output=True, text=True, timeout=300
        )

    auth = run(
        "authenticate",
        "--api_key",
        team.api_key,
        "--default_team",
        "acme",
        "--datasets_dir",
        str(tmp_path / "datasets"),
    )
    assert auth.returncode == 0, auth.stdout + auth.stderr
    return run, team, working_server


def items_of(server: LiveServer, team, dataset_id: int) -> list[dict]:
    r = requests.get(
        f"{server.url}/api/v2/teams/acme/items",
        params={"dataset_ids": dataset_id, "page[size]": 500},
        headers=team.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]


class TestDarwinPush:
    def test_create_push_list_and_remove(self, darwin_cli, tmp_path: Path, bucket: Path) -> None:
        run, team, server = darwin_cli
        created = run("dataset", "create", "road-scenes")
        assert created.returncode == 0 and "has been created" in created.stdout, created.stderr
        files = tmp_path / "files"
        files.mkdir()
        (files / "car.jpg").write_bytes(jpeg_bytes(320, 240))
        (files / "bus.png").write_bytes(_png())
        (files / "drive.mp4").write_bytes(make_video(seconds=1, fps=10))
        shutil.copyfile(str(get_testdata_file("CT_small.dcm")), files / "scan.dcm")

        pushed = run("dataset", "push", "acme/road-scenes", str(files))
        out = pushed.stdout + pushed.stderr
        assert pushed.returncode == 0 and "All 4 files have been successfully uploaded" in out, out

        (ds,) = requests.get(f"{server.url}/api/datasets", headers=team.headers, timeout=10).json()
        done = wait_for(
            lambda: all(
                i["processing_status"] == "complete" for i in items_of(server, team, ds["id"])
            )
        )
        items = {i["name"]: i for i in items_of(server, team, ds["id"])}
        assert done, {
            n: (i["processing_status"], i.get("processing_error")) for n, i in items.items()
        }
        assert set(items) == {"car.jpg", "bus.png", "drive.mp4", "scan.dcm"}
        assert {n: i["slots"][0]["type"] for n, i in items.items()} == {
            "car.jpg": "image",
            "bus.png": "image",
            "drive.mp4": "video",
            "scan.dcm": "dicom",
        }
        assert items["car.jpg"]["slots"][0]["metadata"]["width"] == 320
        assert items["drive.mp4"]["slots"][0]["total_sections"] == 10
        uploaded = sorted(p.name for p in (bucket / "uploads").rglob("*") if p.is_file())
        assert uploaded == ["bus.png", "car.jpg", "drive.mp4", "scan.dcm"]
        thumb = requests.get(
            f"{server.url}/api/v2/teams/acme/items/{items['scan.dcm']['id']}/slots/0/thumbnail",
            headers=team.headers,
            timeout=10,
        )
        assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"

        listed = run("dataset", "files", "acme/road-scenes", "--only-filenames")
        assert listed.returncode == 0, listed.stderr
        names = [w for w in listed.stdout.split() if "." in w]
        assert sorted(names) == ["bus.png", "car.jpg", "drive.mp4", "scan.dcm"], listed.stdout

        again = run("dataset", "push", "acme/road-scenes", str(files / "car.jpg"))
        assert "Skipped 1 files already in the dataset" in again.stdout, again.stdout + again.stderr

        removed = run("dataset", "remove", "acme/road-scenes", stdin="y\n")
        assert removed.returncode == 0, removed.stdout + removed.stderr
        left = requests.get(f"{server.url}/api/datasets", headers=team.headers, timeout=10).json()
        assert left == []

    def test_push_with_fps_and_a_folder_path(self, darwin_cli, tmp_path: Path) -> None:
        run, team, server = darwin_cli
        assert run("dataset", "create", "clips").returncode == 0
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(make_video(seconds=2, fps=10))
        pushed = run("dataset", "push", "acme/clips", str(clip), "--fps", "5", "--path", "/a/b")
        assert "successfully uploaded" in pushed.stdout, pushed.stdout + pushed.stderr
        (ds,) = requests.get(f"{server.url}/api/datasets", headers=team.headers, timeout=10).json()
        (item,) = items_of(server, team, ds["id"])
        assert item["path"] == "/a/b" and item["slots"][0]["fps"] == 5


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 90, 200)).save(buf, "PNG")
    return buf.getvalue()
