from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from moorage.media import MediaError, MemorySink, process_slot, sniff_kind

from .conftest import decode


def hq(sink: MemorySink, index: int) -> np.ndarray:
    return np.asarray(decode(sink[f"sections/high/{index:09d}.png"]))


def marker_volume(affine: np.ndarray | None = None) -> nib.Nifti1Image:
    """20x30x10 RAS volume, dim 0 = x (right), 1 = y (anterior), 2 = z (superior), with a bright
    block in the right-anterior-superior corner."""
    data = np.full((20, 30, 10), 100, dtype=np.int16)
    data[15:, 24:, 8:] = 1000
    data[0, 0, 0] = 0
    return nib.Nifti1Image(data, np.diag([1.0, 2.0, 3.0, 1.0]) if affine is None else affine)


class TestPrimaryAxis:
    def test_slices_along_the_third_axis(self, nifti_files: Path, sink: MemorySink) -> None:
        result = process_slot("nifti", [nifti_files / "anatomical.nii"], sink=sink)
        assert result.total_sections == 25
        assert (result.width, result.height) == (33, 41)
        assert result.metadata["primary_view"] == "axial"
        assert result.metadata["views"] == [
            {
                "name": "axial",
                "axis": "S",
                "first_section": 1,
                "count": 25,
                "width": 33,
                "height": 41,
                "pixel_spacing": [2.0, 2.0],
            }
        ]
        assert hq(sink, 13).shape == (41, 33)
        assert decode(sink["sections/low/000000001.jpg"]).size == (33, 41)
        assert "thumbnail.jpg" in sink

    def test_affine_in_medical_metadata(self, nifti_files: Path, sink: MemorySink) -> None:
        img = nib.load(nifti_files / "anatomical.nii")
        medical = process_slot("nifti", [nifti_files / "anatomical.nii"], sink=sink).metadata[
            "medical"
        ]
        assert np.allclose(medical["affine"], img.affine, atol=1e-5)
        assert medical["space"] == "RAS"
        assert medical["shape"] == [33, 41, 25]
        canonical = nib.as_closest_canonical(img)
        assert np.allclose(medical["canonical_affine"], canonical.affine, atol=1e-5)

    def test_radiological_display(self, tmp_path: Path, sink: MemorySink) -> None:
        nib.save(marker_volume(), tmp_path / "m.nii")
        process_slot("nifti", [tmp_path / "m.nii"], sink=sink)
        top = hq(sink, 10)  # most superior axial slice
        assert top.shape == (30, 20)
        # Anterior at the top, the patient's right on the image's left.
        assert top[:3, :3].min() == 255
        assert top[-3:, -3:].max() < 255

    def test_storage_order_does_not_matter(self, tmp_path: Path, sink: MemorySink) -> None:
        ras = marker_volume()
        nib.save(ras, tmp_path / "ras.nii")
        # The same volume stored left-to-right and posterior-to-anterior flipped (LPS order).
        flipped = np.asarray(ras.dataobj)[::-1, ::-1, :]
        affine = ras.affine @ np.array(
            [[-1, 0, 0, 19], [0, -1, 0, 29], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=float
        )
        nib.save(nib.Nifti1Image(flipped, affine), tmp_path / "lps.nii.gz")
        process_slot("nifti", [tmp_path / "ras.nii"], sink=sink)
        other = MemorySink()
        process_slot("nifti", [tmp_path / "lps.nii.gz"], sink=other)
        assert [hq(sink, i).tolist() for i in range(1, 11)] == [
            hq(other, i).tolist() for i in range(1, 11)
        ]

    def test_dim_info_slice_axis_is_primary(self, tmp_path: Path, sink: MemorySink) -> None:
        img = marker_volume()
        img.header.set_dim_info(slice=0)
        nib.save(img, tmp_path / "sag.nii")
        result = process_slot("nifti", [tmp_path / "sag.nii"], sink=sink)
        assert result.metadata["primary_view"] == "sagittal"
        assert result.total_sections == 20
        assert (result.width, result.height) == (30, 10)


class TestViews:
    def test_three_planes_in_a_fixed_layout(self, nifti_files: Path, sink: MemorySink) -> None:
        result = process_slot(
            "nifti", [nifti_files / "anatomical.nii"], sink=sink, extract_views=True
        )
        views = result.metadata["views"]
        assert [(v["name"], v["first_section"], v["count"]) for v in views] == [
            ("axial", 1, 25),
            ("coronal", 26, 41),
            ("sagittal", 67, 33),
        ]
        assert result.total_sections == 99 == len(sink.names("sections/high/"))
        assert (result.sections[25].width, result.sections[25].height) == (33, 25)
        assert (result.sections[66].width, result.sections[66].height) == (41, 25)
        assert hq(sink, 67).shape == (25, 41)

    def test_pixel_spacing_per_view(self, tmp_path: Path, sink: MemorySink) -> None:
        nib.save(marker_volume(), tmp_path / "m.nii")
        result = process_slot("nifti", [tmp_path / "m.nii"], sink=sink, extract_views=True)
        spacing = {v["name"]: v["pixel_spacing"] for v in result.metadata["views"]}
        assert spacing == {"axial": [2.0, 1.0], "coronal": [3.0, 1.0], "sagittal": [3.0, 2.0]}


class TestFormats:
    def test_4d_gz_uses_the_first_volume(self, nifti_files: Path, sink: MemorySink) -> None:
        result = process_slot("nifti", [nifti_files / "example4d.nii.gz"], sink=sink)
        assert result.total_sections == 24
        assert (result.width, result.height) == (128, 96)
        assert result.metadata["medical"]["volumes"] == 2
        assert result.metadata["medical"]["display_range"] == [0.0, 1162.0]

    def test_nifti2(self, nifti_files: Path, sink: MemorySink) -> None:
        result = process_slot("nifti", [nifti_files / "example_nifti2.nii.gz"], sink=sink)
        assert result.total_sections == 12
        assert (result.width, result.height) == (32, 20)

    def test_gzip_without_extension(
        self, nifti_files: Path, tmp_path: Path, sink: MemorySink
    ) -> None:
        path = tmp_path / "brain"
        shutil.copy(nifti_files / "example4d.nii.gz", path)
        assert sniff_kind(path.read_bytes()[:4096], path.name) == "nifti"
        assert process_slot("nifti", [path], sink=sink).total_sections == 24

    def test_float_volume(self, nifti_files: Path, sink: MemorySink) -> None:
        result = process_slot("nifti", [nifti_files / "reoriented_anat_moved.nii"], sink=sink)
        assert result.total_sections == 22
        pixels = hq(sink, 11)
        assert pixels.max() > pixels.min()

    def test_rgb_voxels(self, tmp_path: Path, sink: MemorySink) -> None:
        rgb = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])
        data = np.zeros((10, 12, 5), dtype=rgb)
        data["R"] = (np.arange(10) * 20)[:, None, None]
        nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "rgb.nii")
        result = process_slot("nifti", [tmp_path / "rgb.nii"], sink=sink)
        assert (result.total_sections, result.width, result.height) == (5, 10, 12)
        row = hq(sink, 1)[0]
        assert row[0] > row[-1]  # brighter on the patient's right, shown on the left


class TestErrors:
    def test_truncated_gzip(self, nifti_files: Path, tmp_path: Path, sink: MemorySink) -> None:
        data = (nifti_files / "example4d.nii.gz").read_bytes()
        path = tmp_path / "cut.nii.gz"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(MediaError) as err:
            process_slot("nifti", [path], sink=sink)
        assert err.value.stage in {"probe", "decode"}

    def test_not_nifti(self, tmp_path: Path, sink: MemorySink) -> None:
        path = tmp_path / "x.nii.gz"
        path.write_bytes(gzip.compress(b"\x00" * 400))
        with pytest.raises(MediaError) as err:
            process_slot("nifti", [path], sink=sink)
        assert err.value.stage == "probe"
