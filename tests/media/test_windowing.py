"""A slice's original values and their windowing, on the files pydicom and nibabel ship."""

from __future__ import annotations

import gzip
import io
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut

from moorage.media import MediaError, MemorySink
from moorage.media.nifti import process_nifti
from moorage.media.windowing import (
    SliceValues,
    dicom_values,
    encode_values,
    nifti_values,
    window_png,
    windowed,
)
from tests.media.conftest import NIBABEL_DATA, PYDICOM_FILES

CT = PYDICOM_FILES / "CT_small.dcm"
PRESETS = [(40.0, 400.0), (-600.0, 1500.0), (400.0, 1800.0), (40.0, 80.0), (300.0, 2000.0)]


def _pydicom_windowed(center: float, width: float) -> np.ndarray:
    """pydicom's own VOI LUT on pydicom's modality LUT output, scaled to 0..255."""
    ds = pydicom.dcmread(CT)
    hu = apply_modality_lut(ds.pixel_array, ds)
    ds.WindowCenter, ds.WindowWidth = center, width
    ds.VOILUTFunction = "LINEAR"
    out = apply_voi_lut(hu, ds, index=0).astype(np.float64)
    # pydicom maps onto its own output range (the stored range, rescaled): ask it for the ends
    low, high = apply_voi_lut(np.array([-1e9, 1e9]), ds, index=0).astype(np.float64)
    return (out - low) * 255.0 / (high - low)


class TestDicomValues:
    def test_ct_values_are_hounsfield_units_as_pydicom_computes(self) -> None:
        ds = pydicom.dcmread(CT)
        data = dicom_values(CT, 0)
        expected = apply_modality_lut(ds.pixel_array, ds)
        assert data.unit == "HU" and data.values.shape == (128, 128)
        np.testing.assert_array_equal(data.values, expected)
        assert data.values.min() == -896.0  # stored 128, intercept -1024
        assert data.window is None and data.invert is False

    @pytest.mark.parametrize(("center", "width"), PRESETS)
    def test_window_matches_pydicoms_voi_lut(self, center: float, width: float) -> None:
        ours = windowed(dicom_values(CT, 0).values, center, width).astype(np.float64)
        assert np.abs(ours - _pydicom_windowed(center, width)).max() <= 1.0

    def test_the_files_own_window_is_returned(self, tmp_path: Path) -> None:
        ds = pydicom.dcmread(CT)
        ds.WindowCenter, ds.WindowWidth = [40, 300], [400, 1500]
        path = tmp_path / "windowed.dcm"
        ds.save_as(path)
        assert dicom_values(path, 0).window == (40.0, 400.0)

    def test_monochrome1_is_inverted_in_the_png(self, tmp_path: Path) -> None:
        ds = pydicom.dcmread(CT)
        ds.PhotometricInterpretation = "MONOCHROME1"
        path = tmp_path / "mono1.dcm"
        ds.save_as(path)
        data = dicom_values(path, 0)
        png = np.asarray(Image.open(io.BytesIO(window_png(data, 40, 400))))
        assert data.invert
        np.testing.assert_array_equal(png, 255 - windowed(data.values, 40, 400))

    def test_colour_frame_missing_frame_and_non_dicom_are_media_errors(
        self, tmp_path: Path
    ) -> None:
        with pytest.raises(MediaError, match="colours"):
            dicom_values(PYDICOM_FILES / "SC_rgb_rle.dcm", 0)
        with pytest.raises(MediaError, match="holds 1 frames, not 2"):
            dicom_values(CT, 1)
        (tmp_path / "x.dcm").write_bytes(b"not a dicom file")
        with pytest.raises(MediaError, match="DICOM"):
            dicom_values(tmp_path / "x.dcm", 0)


class TestNiftiValues:
    def test_slices_match_the_workers_slice_images(self) -> None:
        """Windowed to the worker's display range, every primary slice is its hq PNG."""
        source = NIBABEL_DATA / "anatomical.nii"
        sink = MemorySink()
        result = process_nifti([source], sink=sink, extract_views=True)
        lo, hi = result.metadata["medical"]["display_range"]
        slope, inter = nib.load(source).header.get_slope_inter()
        lo, hi = lo * (slope or 1) + (inter or 0), hi * (slope or 1) + (inter or 0)
        for view in result.metadata["views"]:
            axis = "RAS".index(view["axis"])
            for i in (0, view["count"] // 2, view["count"] - 1):
                values = nifti_values(source, axis, i).values
                section = result.sections[view["first_section"] - 1 + i]
                png = np.asarray(Image.open(io.BytesIO(sink.files[section.hq_name][0])))
                ours = ((values - lo) * (255.0 / (hi - lo))).clip(0, 255).astype(np.uint8)
                assert ours.shape == png.shape
                assert np.abs(ours.astype(int) - png.astype(int)).max() <= 1

    def test_scaled_values_of_a_4d_gzipped_file(self) -> None:
        source = NIBABEL_DATA / "example4d.nii.gz"
        img = nib.load(source)
        data = nifti_values(source, 2, 1)
        canonical = nib.as_closest_canonical(img).get_fdata()[..., 0]
        np.testing.assert_allclose(data.values, canonical[:, :, 1].T[::-1, ::-1])
        assert data.window == (581.0, 1162.0)  # from cal_min..cal_max

    def test_a_file_without_the_nifti_extension(self, tmp_path: Path) -> None:
        plain, gz = tmp_path / "volume.bin", tmp_path / "volume.gz.bin"
        shutil.copy(NIBABEL_DATA / "anatomical.nii", plain)
        gz.write_bytes(gzip.compress((NIBABEL_DATA / "anatomical.nii").read_bytes()))
        expected = nifti_values(NIBABEL_DATA / "anatomical.nii", 2, 3).values
        np.testing.assert_array_equal(nifti_values(plain, 2, 3).values, expected)
        np.testing.assert_array_equal(nifti_values(gz, 2, 3).values, expected)

    def test_out_of_range_and_unreadable(self, tmp_path: Path) -> None:
        with pytest.raises(MediaError, match="slices, not 999"):
            nifti_values(NIBABEL_DATA / "anatomical.nii", 2, 998)
        (tmp_path / "x.nii").write_bytes(b"\x00" * 400)
        with pytest.raises(MediaError, match="NIfTI"):
            nifti_values(tmp_path / "x.nii", 2, 0)


class TestEncoding:
    def test_integers_in_range_are_int16_others_float32(self) -> None:
        body, dtype = encode_values(np.array([[-1024.0, 3071.0]]))
        assert dtype == "int16"
        assert np.frombuffer(body, "<i2").tolist() == [-1024, 3071]
        body, dtype = encode_values(np.array([[0.5, 40000.0]]))
        assert dtype == "float32"
        assert np.frombuffer(body, "<f4").tolist() == [0.5, 40000.0]
        _, dtype = encode_values(np.array([[np.nan, 1.0]]))
        assert dtype == "float32"

    def test_window_refuses_a_width_below_one_or_not_finite(self) -> None:
        data = SliceValues(np.zeros((2, 2)))
        for center, width in ((0.0, 0.5), (float("nan"), 10.0), (0.0, float("inf"))):
            with pytest.raises(ValueError, match="window"):
                window_png(data, center, width)


class TestDicomSources:
    """Files pydicom decodes only from the whole dataset (deflated; no preamble nor file meta,
    read with ``force``) give the same values as pydicom's own reading."""

    def test_deflated(self) -> None:
        ds = pydicom.dcmread(PYDICOM_FILES / "image_dfl.dcm")
        expected = apply_modality_lut(ds.pixel_array, ds)
        np.testing.assert_array_equal(
            dicom_values(PYDICOM_FILES / "image_dfl.dcm", 0).values, expected
        )

    def test_no_file_meta(self, tmp_path: Path) -> None:
        ds = pydicom.dcmread(CT)
        ds.preamble = None
        del ds.file_meta
        path = tmp_path / "bare.dcm"
        pydicom.dcmwrite(path, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
        assert path.read_bytes()[:4] == b"\x08\x00\x05\x00"  # straight into the dataset
        np.testing.assert_array_equal(dicom_values(path, 0).values, dicom_values(CT, 0).values)

    def test_one_frame_of_a_multi_frame_file(self, tmp_path: Path) -> None:
        ds = pydicom.dcmread(CT)
        stored = ds.pixel_array
        frames = np.stack([stored + 10 * n for n in range(3)]).astype(stored.dtype)
        ds.NumberOfFrames = 3
        ds.PixelData = frames.tobytes()
        path = tmp_path / "multi.dcm"
        ds.save_as(path)
        hu = dicom_values(CT, 0).values
        for n in range(3):
            np.testing.assert_array_equal(dicom_values(path, n).values, hu + 10 * n)
        with pytest.raises(MediaError, match="holds 3 frames, not 4"):
            dicom_values(path, 3)
