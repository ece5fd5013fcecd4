from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from PIL import Image

from moorage.media import sniff_kind

from .conftest import write_video


def image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, fmt)
    return buf.getvalue()


class TestByExtension:
    @pytest.mark.parametrize(
        ("name", "kind"),
        [
            ("a.png", "image"),
            ("a.JPEG", "image"),
            ("dir/a.jpg", "image"),
            ("a.jfif", "image"),
            ("a.tif", "image"),
            ("a.tiff", "image"),
            ("a.qtiff", "image"),
            ("a.bmp", "image"),
            ("a.svs", "image"),
            ("a.webp", "image"),
            ("a.pdf", "pdf"),
            ("a.dcm", "dicom"),
            ("a.avi", "video"),
            ("a.bpm", "video"),
            ("a.mov", "video"),
            ("a.mp4", "video"),
            ("a.mkv", "video"),
            ("a.hevc", "video"),
            ("a.ndpi", "video"),
            ("a.rvg", "video"),
            ("a.nii", "nifti"),
            ("brain.NII.GZ", "nifti"),
        ],
    )
    def test_darwin_py_map(self, name: str, kind: str) -> None:
        assert sniff_kind(b"", name) == kind

    def test_unknown_without_content(self) -> None:
        assert sniff_kind(b"hello world", "notes.txt") is None
        assert sniff_kind(b"", "README") is None


class TestByContent:
    @pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "TIFF", "BMP", "WEBP"])
    def test_images(self, fmt: str) -> None:
        assert sniff_kind(image_bytes(fmt)[:4096], "upload") == "image"

    def test_pdf(self) -> None:
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, "PDF")
        assert sniff_kind(buf.getvalue(), "document") == "pdf"

    def test_dicom_preamble_without_extension(self, dicom_files: Path) -> None:
        path = dicom_files / "dicomdirtests/98892001/CT5N/2062"
        assert sniff_kind(path.read_bytes()[:132], path.name) == "dicom"
        assert sniff_kind(path.read_bytes()[:131], path.name) is None

    def test_nifti_plain_and_gzipped(self, nifti_files: Path) -> None:
        plain = (nifti_files / "anatomical.nii").read_bytes()[:4096]
        assert sniff_kind(plain, "scan") == "nifti"
        assert sniff_kind(gzip.compress(plain)[:4096], "scan.gz") == "nifti"
        nifti2 = gzip.decompress((nifti_files / "example_nifti2.nii.gz").read_bytes())
        assert sniff_kind(nifti2[:4096], "scan") == "nifti"

    def test_gzip_that_is_not_nifti(self) -> None:
        assert sniff_kind(gzip.compress(b"x" * 1000), "archive.gz") is None

    @pytest.mark.parametrize("name", ["clip.mp4", "clip.mkv"])
    def test_video_containers(self, tmp_path: Path, name: str) -> None:
        path = write_video(tmp_path / name, seconds=0.2)
        assert sniff_kind(path.read_bytes()[:4096], "video-without-extension") == "video"

    def test_extension_wins_over_content(self, dicom_files: Path) -> None:
        data = (dicom_files / "CT_small.dcm").read_bytes()[:4096]
        assert sniff_kind(data, "scan.dcm") == "dicom"
        assert sniff_kind(image_bytes("PNG"), "a.png") == "image"
