"""darwin-py 3.6.3 (from PyPI) against a live moorage: export, get_releases and pull, through
the Python API and the ``darwin`` command, every pulled file compared byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from moorage.models import Dataset, Item, Section, Slot, StorageConfig
from tests.releases.conftest import IMAGES, VIDEO, Site, wait_for


def pulled_files(images: Path) -> dict[str, bytes]:
    return {
        p.relative_to(images).as_posix(): p.read_bytes()
        for p in sorted(images.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def expected_files(site: Site) -> dict[str, bytes]:
    """darwin-py's layout with folders: ``images/<item path>/<item name>``."""
    return dict(site.files)


def video_frames(site: Site, dataset: str) -> list[bytes]:
    """The video's visible frames as moorage stored them (its hq sections), in order."""
    with site.ctx.db.session() as session:
        rows = session.execute(
            select(Section.storage_hq_key, StorageConfig)
            .join(Slot, Slot.id == Section.slot_id)
            .join(Item, Item.id == Slot.item_id)
            .join(StorageConfig, StorageConfig.id == Item.storage_id)
            .join(Dataset, Dataset.id == Item.dataset_id)
            .where(Item.name == Path(VIDEO).name, Dataset.slug == dataset)
            .order_by(Section.section_index)
        ).all()
        adapter = site.ctx.storages.adapter_for(session, rows[0][1])
        return [adapter.local_path(key).read_bytes() for key, _ in rows]


def wait_release(dataset: Any, name: str) -> Any:
    release = wait_for(lambda: next((r for r in dataset.get_releases() if r.name == name), None))
    assert release is not None, "the release did not become available"
    return release


class TestExportAndReleases:
    def test_export_then_get_releases(self, darwin, site: Site) -> None:
        dataset = darwin.get_remote_dataset("darwin-py")
        dataset.export("first", include_url_token=True, version="2.0")
        # pending releases are not available: darwin-py lists them only when asked to
        pending = dataset.get_releases(include_unavailable=True)
        assert [r.name for r in pending] == ["first"]
        release = wait_release(dataset, "first")
        assert release.status.value == "complete"
        assert release.format == "darwin_json_2"
        assert release.image_count == len(IMAGES)
        assert release.class_count == 0
        assert release.latest is True
        assert release.url.startswith(f"{site.url}/api/v2/teams/acme/exports/")
        assert "token=" in release.url

        dataset.export("second", version="2.0")
        second = wait_release(dataset, "second")
        releases = dataset.get_releases()
        assert [r.name for r in releases] == ["second", "first"]
        assert [r.latest for r in releases] == [True, False]
        assert dataset.get_release("latest").name == "second"
        assert second.version > release.version

    def test_zip_is_darwin_json_2(self, darwin, site: Site, tmp_path: Path) -> None:
        from darwin.utils import parse_darwin_json

        dataset = darwin.get_remote_dataset("darwin-py")
        dataset.export("zipped", include_url_token=True, version="2.0")
        release = wait_release(dataset, "zipped")
        path = release.download_zip(tmp_path / "release.zip")
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            assert len(names) == len(site.files)
            assert all("/" not in n and n.endswith(".json") for n in names)
            zf.extractall(tmp_path / "out")
        docs = {}
        for name in names:
            raw = json.loads((tmp_path / "out" / name).read_text())
            assert raw["version"] == "2.0" and raw["annotations"] == []
            assert raw["schema_ref"].endswith("/darwin_json/2.0/schema.json")
            info = raw["item"]["source_info"]
            assert info["team"] == {"name": "acme", "slug": "acme"}
            assert info["dataset"]["slug"] == "darwin-py"
            parsed = parse_darwin_json(tmp_path / "out" / name)
            assert parsed is not None and parsed.item_id == info["item_id"]
            docs[parsed.full_path] = (raw, parsed)
        car, parsed = docs["/cars/red.jpg"]
        slot = car["item"]["slots"][0]
        assert (slot["type"], slot["slot_name"], slot["width"], slot["height"]) == (
            "image",
            "0",
            64,
            48,
        )
        assert slot["source_files"][0]["file_name"] == "red.jpg"
        assert parsed.image_url == slot["source_files"][0]["url"]
        video, parsed = docs["/clips/seals.mp4"]
        vslot = video["item"]["slots"][0]
        assert parsed.is_video and vslot["frame_count"] == len(vslot["frame_urls"]) == 10


class TestPull:
    def test_pull_with_the_python_api(self, darwin, site: Site) -> None:
        dataset = darwin.get_remote_dataset("darwin-py")
        dataset.export("v1", include_url_token=True, version="2.0")
        release = wait_release(dataset, "v1")
        dataset.pull(release=release, multi_processed=False)
        assert pulled_files(dataset.local_images_path) == expected_files(site)
        annotations = dataset.local_releases_path / "v1" / "annotations"
        names = sorted(p.name for p in annotations.iterdir())
        assert names == sorted(f"{Path(k).stem}.json" for k in site.files)
        # darwin-py's loaders find each image from its annotation file, as from V7's
        from darwin.utils import get_image_path_from_stream, stream_darwin_json

        found = {
            get_image_path_from_stream(stream_darwin_json(p), dataset.local_images_path, p)
            for p in annotations.glob("*.json")
        }
        assert found == {dataset.local_images_path / k for k in site.files}

    def test_pull_without_url_tokens_uses_the_api_key(self, darwin, site: Site) -> None:
        dataset = darwin.get_remote_dataset("darwin-py")
        dataset.export("keyed", version="2.0")  # darwin-py's default: no token in file URLs
        release = wait_release(dataset, "keyed")
        dataset.pull(release=release, multi_processed=False)
        assert pulled_files(dataset.local_images_path) == expected_files(site)

    def test_pull_video_frames(self, darwin, site: Site) -> None:
        """``video_frames=True``: one image a visible frame, from the slot's ``frame_urls``.
        (darwin-py asks for OpenCV as soon as one item of the release has no ``frame_urls``, as
        images have none: this release holds the video alone.)"""
        assert site.post("/api/datasets", {"name": "Clips"}).status_code == 200
        site.register("clips", [VIDEO])
        dataset = darwin.get_remote_dataset("clips")
        dataset.export("frames", include_url_token=True, version="2.0")
        release = wait_release(dataset, "frames")
        dataset.pull(release=release, multi_processed=False, video_frames=True)
        frames = video_frames(site, "clips")
        assert len(frames) == 10
        assert pulled_files(dataset.local_images_path) == {
            f"clips/seals/{i:07d}.png": data for i, data in enumerate(frames)
        }

    def test_pull_with_the_darwin_command(self, site: Site, tmp_path: Path) -> None:
        home = tmp_path / "cli-home"
        home.mkdir()
        r = site.post(site.exports(), {"name": "cli", "include_export_token": True})
        assert r.status_code == 200, r.text
        site.wait_complete("cli")
        env = {
            **os.environ,
            "HOME": str(home),
            "DARWIN_BASE_URL": site.url,
            "DARWIN_API_KEY": site.team.api_key,
            "DARWIN_RETRY_MAX_ATTEMPTS": "1",
        }
        darwin_cli = Path(sys.executable).parent / "darwin"
        out = subprocess.run(
            [str(darwin_cli), "dataset", "pull", "acme/darwin-py:cli"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert "Encountered errors" not in out.stdout, out.stdout
        images = home / ".darwin" / "datasets" / "acme" / "darwin-py" / "images"
        assert pulled_files(images) == expected_files(site)
