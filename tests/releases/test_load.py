"""A release pulled with ``darwin dataset pull team/dataset:release`` (darwin-py 3.6.3), loaded
with darwin-py's own local-dataset code, unchanged: ``LocalDataset`` (the base of
``darwin.torch``'s datasets; torch is not installed) and ``darwin.dataset.utils.get_annotations``.
Every image loads with PIL and is the original, byte for byte; the items' tags are the tag
annotations and classes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.releases.conftest import IMAGES, Site

#: the tags given to the images (the video gets none: darwin-py's loaders skip an item with no
#: annotations, as they would a V7 item)
TAGS = {"cars/red.jpg": ["car", "red"], "cars/blue.jpg": ["car"], "plane.jpg": ["sky"]}


def tag(site: Site, name: str, keys: list[str]) -> None:
    (dataset,) = site.get("/api/datasets").json()
    filters = {"dataset_ids": [dataset["id"]], "item_names": [Path(k).name for k in keys]}
    r = site.post("/api/v2/teams/acme/items/slots/tags", {"tag": name, "filters": filters})
    assert r.status_code == 200, r.text


def pull(site: Site, home: Path, release: str) -> Path:
    """``darwin dataset pull acme/darwin-py:<release>`` as its own process; the dataset's folder."""
    env = {
        **os.environ,
        "HOME": str(home),
        "DARWIN_BASE_URL": site.url,
        "DARWIN_API_KEY": site.team.api_key,
        "DARWIN_RETRY_MAX_ATTEMPTS": "1",
    }
    darwin_cli = Path(sys.executable).parent / "darwin"
    out = subprocess.run(
        [str(darwin_cli), "dataset", "pull", f"acme/darwin-py:{release}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0 and "Encountered errors" not in out.stdout, out.stdout + out.stderr
    return home / ".darwin" / "datasets" / "acme" / "darwin-py"


@pytest.fixture
def pulled(site: Site, tmp_path: Path) -> Path:
    for key, names in TAGS.items():
        for name in names:
            tag(site, name, [key])
    r = site.post(site.exports(), {"name": "v1", "include_export_token": True})
    assert r.status_code == 200, r.text
    site.wait_complete("v1")
    home = tmp_path / "home"
    home.mkdir()
    return pull(site, home, "v1")


def image_key(site: Site, path: Path, dataset_path: Path) -> str:
    key = path.relative_to(dataset_path / "images").as_posix()
    assert key in site.files, key
    return key


class TestLocalDataset:
    def test_every_image_loads_and_is_the_original(self, site: Site, pulled: Path) -> None:
        from darwin.dataset.local_dataset import LocalDataset

        dataset = LocalDataset(pulled, annotation_type="tag", release_name="v1")
        assert dataset.classes == ["car", "red", "sky"]
        assert len(dataset) == len(IMAGES)
        seen = set()
        for index in range(len(dataset)):
            image, target = dataset[index]
            key = image_key(site, dataset.get_image_path(index), pulled)
            seen.add(key)
            assert image.size == IMAGES[key] and image.mode == "RGB"
            assert dataset.get_image_path(index).read_bytes() == site.files[key]
            with Image.open(io.BytesIO(site.files[key])) as original:
                assert image.tobytes() == original.convert("RGB").tobytes()
            assert (target["width"], target["height"]) == IMAGES[key]
            names = sorted(a.annotation_class.name for a in target["annotations"])
            assert names == TAGS[key]
            assert all(a.annotation_class.annotation_type == "tag" for a in target["annotations"])
        assert seen == set(IMAGES)

    def test_the_latest_release_loads_without_its_name(self, site: Site, pulled: Path) -> None:
        from darwin.dataset.local_dataset import LocalDataset

        dataset = LocalDataset(pulled, annotation_type="tag")
        assert len(dataset) == len(IMAGES)
        assert (pulled / "releases" / "latest").resolve().name == "v1"

    def test_a_type_the_release_has_no_class_of_is_refused_by_darwin_py(self, pulled: Path) -> None:
        from darwin.dataset.local_dataset import LocalDataset

        # moorage holds no polygons: darwin-py says so, as for a V7 release without any
        with pytest.raises(
            AssertionError, match=r"No classes found .*polygon.*Supported types are: tag"
        ):
            LocalDataset(pulled, annotation_type="polygon", release_name="v1")


class TestGetAnnotations:
    def test_coco_records_point_at_the_originals(self, site: Site, pulled: Path) -> None:
        from darwin.dataset.utils import get_annotations

        records: list[dict[str, Any]] = list(
            get_annotations(
                pulled, annotation_type="tag", annotation_format="coco", release_name="v1"
            )
        )  # COCO skips the video, as darwin-py says
        by_key = {image_key(site, Path(r["file_name"]), pulled): r for r in records}
        assert set(by_key) == set(IMAGES)
        for key, record in by_key.items():
            assert (record["width"], record["height"]) == IMAGES[key]
            with Image.open(record["file_name"]) as image:
                image.load()
                assert image.size == IMAGES[key]
            assert Path(record["file_name"]).read_bytes() == site.files[key]

    def test_darwin_records_carry_the_tags(self, site: Site, pulled: Path) -> None:
        from darwin.dataset.utils import get_annotations

        records: list[dict[str, Any]] = list(
            get_annotations(
                pulled, annotation_type="tag", annotation_format="darwin", release_name="v1"
            )
        )
        by_key = {f"{r['item']['path']}/{r['item']['name']}".lstrip("/"): r for r in records}
        assert set(by_key) == set(site.files)  # the video too
        for key, record in by_key.items():
            names = sorted(a["name"] for a in record["annotations"])
            assert names == TAGS.get(key, [])
            assert all(a["tag"] == {} and a["slot_names"] == ["0"] for a in record["annotations"])
