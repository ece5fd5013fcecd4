"""Real originals for ``moorage prepare``: PIL images, a PyAV video, a PDF, pydicom's and
nibabel's sample files, and a file that is not media."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from PIL import Image

from tests.media.conftest import write_video

DICOM = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"
NIFTI = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
MEDIA_NAMES = ["cars.jpg", "cars.png", "deep.tif", "clip.mp4", "doc.pdf", "scan.dcm", "brain.nii"]


def write_photo(path: Path, seed: int = 0, size: tuple[int, int] = (400, 300)) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def write_originals(src: Path) -> list[Path]:
    """One file of every kind in ``src`` (flat), plus ``notes.txt``; the media files first."""
    src.mkdir(parents=True, exist_ok=True)
    write_photo(src / "cars.jpg")
    write_photo(src / "cars.png")  # same stem as cars.jpg
    Image.fromarray(np.arange(120 * 80, dtype=np.uint16).reshape(80, 120)).save(src / "deep.tif")
    write_video(src / "clip.mp4", seconds=1.0)
    pages = [Image.new("RGB", (612, 792), "white") for _ in range(2)]
    pages[0].save(src / "doc.pdf", "PDF", resolution=72, save_all=True, append_images=pages[1:])
    shutil.copy(DICOM, src / "scan.dcm")
    shutil.copy(NIFTI, src / "brain.nii")
    (src / "notes.txt").write_text("not media")
    return [src / n for n in [*MEDIA_NAMES, "notes.txt"]]


def write_tree(root: Path) -> Path:
    """A folder with subfolders: two photos at the top, one two levels down, a note."""
    (root / "sub" / "deeper").mkdir(parents=True)
    write_photo(root / "a.jpg", 1)
    write_photo(root / "sub" / "deeper" / "b.png", 2)
    write_photo(root / "sub" / "c.jpg", 3)
    (root / "sub" / "readme.txt").write_text("not media")
    return root


@pytest.fixture(scope="session")
def originals(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_originals(tmp_path_factory.mktemp("originals"))


def slot_of(items: list[dict], name: str) -> dict:
    (item,) = [i for i in items if i["name"] == name]
    return item["slots"][0]


def referenced_keys(slot: dict) -> list[str]:
    keys = [slot["storage_thumbnail_key"]]
    for section in slot.get("sections", []):
        keys += [section["storage_hq_key"], section["storage_lq_key"]]
    keys += [m["storage_key"] for m in slot["metadata"].get("frames_manifests", [])]
    return keys
