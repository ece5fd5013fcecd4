from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from PIL import Image

from moorage.prepare import prepare
from moorage.registration.checks import check_readonly_fields
from moorage.registration.normalize import normalize_item
from tests.media.conftest import write_video

DICOM = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"
NIFTI = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    src = tmp_path_factory.mktemp("originals")
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    photo.save(src / "cars.jpg", quality=90)
    photo.save(src / "cars.png")  # same stem as cars.jpg
    Image.fromarray(np.arange(120 * 80, dtype=np.uint16).reshape(80, 120)).save(src / "deep.tif")
    write_video(src / "clip.mp4", seconds=1.0)
    pages = [Image.new("RGB", (612, 792), "white") for _ in range(2)]
    pages[0].save(src / "doc.pdf", "PDF", resolution=72, save_all=True, append_images=pages[1:])
    shutil.copy(DICOM, src / "scan.dcm")
    shutil.copy(NIFTI, src / "brain.nii")
    (src / "notes.txt").write_text("not media")
    names = ["cars.jpg", "cars.png", "deep.tif", "clip.mp4", "doc.pdf", "scan.dcm", "brain.nii"]
    return [src / n for n in [*names, "notes.txt"]]


@pytest.fixture(scope="module")
def prepared(files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("out")
    return prepare(files, out, key_prefix="/darwin/batch1/", fps=5), out


def slot_of(payload: dict, name: str) -> dict:
    (item,) = [i for i in payload["items"] if i["name"] == name]
    return item["slots"][0]


def referenced_keys(slot: dict) -> list[str]:
    keys = [slot["storage_thumbnail_key"]]
    for section in slot.get("sections", []):
        keys += [section["storage_hq_key"], section["storage_lq_key"]]
    keys += [m["storage_key"] for m in slot["metadata"].get("frames_manifests", [])]
    return keys


class TestPayload:
    def test_one_item_per_media_file_in_order(self, prepared: tuple[dict, Path]) -> None:
        payload, _ = prepared
        assert [i["name"] for i in payload["items"]] == [
            "cars.jpg", "cars.png", "deep.tif", "clip.mp4", "doc.pdf", "scan.dcm", "brain.nii",
        ]  # fmt: skip
        assert all(i["path"] == "/" and len(i["slots"]) == 1 for i in payload["items"])
        json.dumps(payload)

    def test_unreadable_files_are_reported(self, prepared: tuple[dict, Path]) -> None:
        payload, _ = prepared
        (error,) = payload["errors"]
        assert error["file"].endswith("notes.txt")
        assert error["stage"] == "probe"

    def test_image_fields(self, prepared: tuple[dict, Path]) -> None:
        slot = slot_of(prepared[0], "cars.jpg")
        assert slot["type"] == "image"
        assert slot["slot_name"] == "0"
        assert slot["storage_key"] == "darwin/batch1/cars.jpg"
        assert slot["storage_thumbnail_key"] == "darwin/batch1/cars/thumbnail.jpg"
        assert (slot["width"], slot["height"]) == (400, 300)
        assert "sections" not in slot

    def test_same_stem_gets_its_own_folder(self, prepared: tuple[dict, Path]) -> None:
        slot = slot_of(prepared[0], "cars.png")
        assert slot["storage_thumbnail_key"] == "darwin/batch1/cars_png/thumbnail.jpg"

    def test_rendered_image_has_a_section(self, prepared: tuple[dict, Path]) -> None:
        slot = slot_of(prepared[0], "deep.tif")
        assert slot["sections"] == [
            {
                "section_index": 1,
                "width": 120,
                "height": 80,
                "storage_hq_key": "darwin/batch1/deep/sections/high/000000001.png",
                "storage_lq_key": "darwin/batch1/deep/sections/low/000000001.jpg",
            }
        ]

    def test_video_fields(self, prepared: tuple[dict, Path]) -> None:
        slot = slot_of(prepared[0], "clip.mp4")
        assert slot["type"] == "video"
        assert slot["fps"] == 5
        assert slot["as_frames"] is False
        assert len(slot["sections"]) == 5  # 1 s at 25 fps sampled at 5 fps
        assert slot["sections"][4]["storage_hq_key"] == (
            "darwin/batch1/clip/sections/high/000000005.jpg"
        )
        assert slot["metadata"]["native_fps"] == 25
        assert slot["metadata"]["frames_manifests"][0]["storage_key"] == (
            "darwin/batch1/clip/frames_manifest.txt"
        )

    def test_pdf_dicom_and_nifti(self, prepared: tuple[dict, Path]) -> None:
        payload = prepared[0]
        assert len(slot_of(payload, "doc.pdf")["sections"]) == 2
        dicom = slot_of(payload, "scan.dcm")
        assert dicom["type"] == "dicom"
        assert dicom["metadata"]["medical"]["modality"] == "CT"
        nifti = slot_of(payload, "brain.nii")
        assert nifti["type"] == "dicom"  # the contract's types: NIfTI registers as a volume
        assert len(nifti["sections"]) == 25


class TestFiles:
    def test_every_referenced_key_exists_under_out_dir(self, prepared: tuple[dict, Path]) -> None:
        payload, out = prepared
        for item in payload["items"]:
            for key in referenced_keys(item["slots"][0]):
                assert (out / key).is_file(), key

    def test_nothing_else_is_written(self, prepared: tuple[dict, Path]) -> None:
        payload, out = prepared
        written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
        referenced = {k for i in payload["items"] for k in referenced_keys(i["slots"][0])}
        assert written == referenced


class TestRegistrationAcceptsIt:
    def test_readonly_checks_pass(self, prepared: tuple[dict, Path]) -> None:
        for index, raw in enumerate(prepared[0]["items"]):
            item = normalize_item(index, raw)
            assert not item.blocked, (raw["name"], item.error, [s.error for s in item.slots])
            for slot in item.slots:
                check_readonly_fields(slot)
