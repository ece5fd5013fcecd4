from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from moorage.media import MediaError, MemorySink, dicom_layout_key, process_slot

from .conftest import decode

CT5N = "dicomdirtests/98892001/CT5N"


def hq(sink: MemorySink, index: int = 1) -> np.ndarray:
    return np.asarray(decode(sink[f"sections/high/{index:09d}.png"]))


class TestSingleFrame:
    def test_ct_without_window_uses_min_max(self, dicom_files: Path, sink: MemorySink) -> None:
        result = process_slot("dicom", [dicom_files / "CT_small.dcm"], sink=sink)
        assert (result.width, result.height) == (128, 128)
        assert result.total_sections == 1
        assert result.sections[0].hq_name == "sections/high/000000001.png"
        assert result.sections[0].lq_name == "sections/low/000000001.jpg"
        pixels = hq(sink)
        assert pixels.dtype == np.uint8
        assert (pixels.min(), pixels.max()) == (0, 255)
        assert decode(sink["thumbnail.jpg"]).size == (128, 128)

    def test_ct_medical_metadata(self, dicom_files: Path, sink: MemorySink) -> None:
        medical = process_slot("dicom", [dicom_files / "CT_small.dcm"], sink=sink).metadata[
            "medical"
        ]
        ds = pydicom.dcmread(dicom_files / "CT_small.dcm")
        assert medical["modality"] == "CT"
        assert medical["pixel_spacing"] == [float(v) for v in ds.PixelSpacing]
        assert medical["orientation"] == [float(v) for v in ds.ImageOrientationPatient]
        assert medical["slice_thickness"] == float(ds.SliceThickness)
        assert medical["rescale"] == {"slope": 1.0, "intercept": -1024.0}
        assert medical["window"] is None
        affine = np.array(medical["affine"])
        assert affine.shape == (4, 4)
        assert affine[:3, 3] == pytest.approx([float(v) for v in ds.ImagePositionPatient])
        # Column index 1 moves one column spacing along the row direction cosine.
        step = np.array([float(v) for v in ds.ImageOrientationPatient[:3]]) * float(
            ds.PixelSpacing[1]
        )
        assert affine[:3, 0] == pytest.approx(step, abs=1e-5)

    def test_mr_window_from_the_file(self, dicom_files: Path, sink: MemorySink) -> None:
        result = process_slot("dicom", [dicom_files / "MR_small.dcm"], sink=sink)
        assert result.metadata["medical"]["window"] == {"center": 600.0, "width": 1600.0}
        raw = pydicom.dcmread(dicom_files / "MR_small.dcm").pixel_array.astype(float)
        low, high = 600 - 0.5 - 799.5, 600 - 0.5 + 799.5
        expected = np.clip((raw - low) * 255 / (high - low), 0, 255).astype(np.uint8)
        assert np.abs(hq(sink).astype(int) - expected.astype(int)).max() <= 1

    def test_monochrome1_is_inverted(
        self, dicom_files: Path, tmp_path: Path, sink: MemorySink
    ) -> None:
        ds = pydicom.dcmread(dicom_files / "MR_small.dcm")
        ds.PhotometricInterpretation = "MONOCHROME1"
        ds.save_as(tmp_path / "inverted.dcm")
        process_slot("dicom", [dicom_files / "MR_small.dcm"], sink=sink)
        other = MemorySink()
        process_slot("dicom", [tmp_path / "inverted.dcm"], sink=other)
        assert np.array_equal(hq(other), 255 - hq(sink))

    def test_palette_colour(self, dicom_files: Path, sink: MemorySink) -> None:
        result = process_slot("dicom", [dicom_files / "examples_palette.dcm"], sink=sink)
        assert (result.width, result.height) == (800, 350)
        assert hq(sink).shape == (350, 800, 3)


class TestCompressed:
    @pytest.mark.parametrize(
        "name",
        ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"],
    )
    def test_lossless_syntaxes_match_the_uncompressed_file(
        self, dicom_files: Path, sink: MemorySink, name: str
    ) -> None:
        process_slot("dicom", [dicom_files / "MR_small.dcm"], sink=sink)
        other = MemorySink()
        process_slot("dicom", [dicom_files / name], sink=other)
        assert np.array_equal(hq(other), hq(sink))

    @pytest.mark.parametrize(
        ("name", "shape"),
        [
            ("SC_rgb_jpeg_dcmtk.dcm", (100, 100, 3)),  # JPEG baseline, YBR
            ("JPGExtended.dcm", (1024, 256)),  # 12-bit JPEG extended
            ("JPEG2000.dcm", (1024, 256)),
            ("693_J2KI.dcm", (512, 512)),
            ("JPEGLSNearLossless_16.dcm", (50, 10)),
            ("image_dfl.dcm", (512, 512)),  # deflated transfer syntax
        ],
    )
    def test_decodes(
        self, dicom_files: Path, sink: MemorySink, name: str, shape: tuple[int, ...]
    ) -> None:
        process_slot("dicom", [dicom_files / name], sink=sink)
        pixels = hq(sink)
        assert pixels.shape == shape
        assert pixels.max() > pixels.min()


class TestMultiFrame:
    def test_every_frame_is_a_section(self, dicom_files: Path, sink: MemorySink) -> None:
        result = process_slot("dicom", [dicom_files / "examples_ybr_color.dcm"], sink=sink)
        assert result.total_sections == 30
        assert result.metadata["frames"] == 30
        assert (result.width, result.height) == (320, 240)
        assert len(sink.names("sections/high/")) == 30
        assert hq(sink, 30).shape == (240, 320, 3)

    def test_frames_keep_their_order(self, dicom_files: Path, sink: MemorySink) -> None:
        process_slot("dicom", [dicom_files / "SC_rgb_rle_2frame.dcm"], sink=sink)
        frames = pydicom.dcmread(dicom_files / "SC_rgb_rle_2frame.dcm").pixel_array
        assert np.array_equal(hq(sink, 1), frames[0])
        assert np.array_equal(hq(sink, 2), frames[1])

    def test_rtdose_32_bit(self, dicom_files: Path, sink: MemorySink) -> None:
        result = process_slot("dicom", [dicom_files / "rtdose.dcm"], sink=sink)
        assert result.total_sections == 15


class TestSeries:
    def series(self, dicom_files: Path) -> list[Path]:
        return sorted((dicom_files / CT5N).iterdir())

    def test_ordered_by_position_along_the_normal(
        self, dicom_files: Path, sink: MemorySink
    ) -> None:
        files = self.series(dicom_files)
        result = process_slot("dicom", files[::-1], sink=sink)
        assert result.total_sections == 5
        series = result.metadata["series"]
        assert [s["file"] for s in series] == ["3353", "3023", "2693", "2392", "2062"]
        assert [s["instance_number"] for s in series] == [10, 9, 8, 7, 6]
        z = [s["position"][2] for s in series]
        assert z == sorted(z)
        assert [s["first_section"] for s in series] == [1, 2, 3, 4, 5]
        medical = result.metadata["medical"]
        assert medical["slice_spacing"] == pytest.approx(2.5)
        assert np.array(medical["affine"])[:3, 2] == pytest.approx([0, 0, 2.5])
        assert medical["window"] == {"center": 40.0, "width": 400.0}

    def test_any_input_order_gives_the_same_sections(
        self, dicom_files: Path, sink: MemorySink
    ) -> None:
        files = self.series(dicom_files)
        process_slot("dicom", files, sink=sink)
        other = MemorySink()
        process_slot("dicom", [files[2], files[0], files[4], files[1], files[3]], sink=other)
        assert sink.files == other.files
        # Section 1 is the lowest slice (instance 10, file 3353).
        expected = pydicom.dcmread(dicom_files / CT5N / "3353")
        assert hq(sink, 1).shape == expected.pixel_array.shape

    def test_same_position_falls_back_to_instance_number(
        self, dicom_files: Path, tmp_path: Path, sink: MemorySink
    ) -> None:
        for number in (3, 1, 2):
            ds = pydicom.dcmread(dicom_files / "CT_small.dcm")
            ds.InstanceNumber = number
            ds.SOPInstanceUID = f"1.2.3.{number}"
            ds.save_as(tmp_path / f"slice{number}")
        files = [tmp_path / "slice3", tmp_path / "slice1", tmp_path / "slice2"]
        result = process_slot("dicom", files, sink=sink)
        assert [s["instance_number"] for s in result.metadata["series"]] == [1, 2, 3]


class TestLayoutKey:
    def test_series_laterality_view(self, dicom_files: Path, tmp_path: Path) -> None:
        ds = pydicom.dcmread(dicom_files / "CT_small.dcm")
        ds.SeriesNumber = 7
        ds.ImageLaterality = "L"
        ds.ViewPosition = "CC"
        ds.save_as(tmp_path / "mammo")
        assert dicom_layout_key(tmp_path / "mammo") == (7, "L", "CC")

    def test_missing_values_sort_first(self, dicom_files: Path) -> None:
        keys = [dicom_layout_key(p) for p in sorted((dicom_files / CT5N).iterdir())]
        assert keys == [(5, "", "")] * 5
        assert dicom_layout_key(dicom_files / "dicomdirtests/77654033/CR2/6247")[0] == 2


class TestErrors:
    def test_truncated_pixel_data(self, dicom_files: Path, sink: MemorySink) -> None:
        with pytest.raises(MediaError) as err:
            process_slot("dicom", [dicom_files / "MR_truncated.dcm"], sink=sink)
        assert err.value.stage == "decode"

    def test_not_dicom(self, tmp_path: Path, sink: MemorySink) -> None:
        path = tmp_path / "x.dcm"
        path.write_bytes(b"\x00" * 64)
        with pytest.raises(MediaError) as err:
            process_slot("dicom", [path], sink=sink)
        assert err.value.stage == "probe"

    def test_dicom_without_image(self, dicom_files: Path, tmp_path: Path, sink: MemorySink) -> None:
        shutil.copy(dicom_files / "rtplan.dcm", tmp_path / "plan.dcm")
        with pytest.raises(MediaError) as err:
            process_slot("dicom", [tmp_path / "plan.dcm"], sink=sink)
        assert err.value.stage == "probe"
