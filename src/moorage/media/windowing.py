"""A slice's original values, for windowing by the viewer (or here, to an 8-bit PNG).

DICOM: one frame of one file, decoded by pydicom, after the modality LUT (``apply_modality_lut``:
RescaleSlope/Intercept or a Modality LUT Sequence, so HU for CT). NIfTI: one slice of the first
volume, scaled by the header's slope/intercept (nibabel's ``dataobj``), in the orientation the
worker's slice images have (``nifti.py``: canonical RAS+, radiological convention). Only the
slice's voxels are read from an uncompressed ``.nii`` (nibabel's array proxy).

Pure functions of a local file: no HTTP, no database.
"""

from __future__ import annotations

import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from numpy.typing import NDArray
from PIL import Image
from pydicom.pixels.processing import apply_modality_lut
from pydicom.pixels.utils import pixel_array

from moorage.media.base import MediaError
from moorage.media.dicom import decodable, window_of
from moorage.media.dicom_geometry import read_header
from moorage.media.render import array_to_8bit

__all__ = [
    "SliceValues",
    "dicom_values",
    "encode_values",
    "nifti_values",
    "window_png",
    "windowed",
]

_GREY = ("MONOCHROME1", "MONOCHROME2")
_orient: Any = nib.orientations


@dataclass(frozen=True)
class SliceValues:
    """``values``: rows x columns, float64. ``window``: the file's own (center, width)."""

    values: NDArray[np.float64]
    window: tuple[float, float] | None = None
    invert: bool = False  # MONOCHROME1: the lowest value is white
    unit: str | None = None  # "HU" for CT

    @property
    def height(self) -> int:
        return int(self.values.shape[0])

    @property
    def width(self) -> int:
        return int(self.values.shape[1])


def dicom_values(path: Path, frame: int) -> SliceValues:
    """Frame ``frame`` (0-based) of a DICOM file, after the modality LUT. Only that frame is
    read and decoded (but for deflated files, which pydicom decodes from the whole dataset)."""
    header = read_header(path)
    ds = header.ds
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric not in _GREY or int(ds.get("SamplesPerPixel") or 1) != 1:
        message = f"{photometric} pixels are colours: a window does not apply"
        raise MediaError(message, stage="slices")
    if not 0 <= frame < header.frames:
        message = f"the file holds {header.frames} frames, not {frame + 1}"
        raise MediaError(message, stage="slices")
    try:
        stored = pixel_array(decodable(header), index=frame)
    except (ValueError, RuntimeError, NotImplementedError, OSError, AttributeError) as exc:
        raise MediaError(f"cannot decode pixel data: {exc}", stage="decode") from exc
    values = np.asarray(apply_modality_lut(stored, ds), dtype=np.float64)
    modality = str(ds.get("Modality", "")).upper()
    return SliceValues(
        values=values,
        window=window_of(ds),
        invert=photometric == "MONOCHROME1",
        unit="HU" if modality == "CT" else None,
    )


def nifti_values(path: Path, axis: int, index: int) -> SliceValues:
    """Slice ``index`` (0-based) along canonical RAS axis ``axis`` of the first volume."""
    if path.name.lower().endswith((".nii", ".nii.gz")):
        return _nifti_values(path, axis, index)
    # nibabel knows a file by its extension: a key named otherwise is linked under one
    with tempfile.TemporaryDirectory(prefix="moorage-slice-") as tmp:
        with path.open("rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
        link = Path(tmp) / ("volume.nii.gz" if gzipped else "volume.nii")
        link.symlink_to(path.resolve())
        return _nifti_values(link, axis, index)


def _nifti_values(path: Path, axis: int, index: int) -> SliceValues:
    try:
        img: Any = nib.load(str(path))
    except (ImageFileError, OSError, ValueError, EOFError) as exc:
        raise MediaError(f"not a readable NIfTI file: {exc}", stage="probe") from exc
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise MediaError("not a NIfTI image volume", stage="probe")
    shape = [int(n) for n in img.shape]
    if len(shape) < 2:
        raise MediaError("not a NIfTI image volume", stage="probe")
    shape3 = [*shape, 1, 1][:3]
    ornt = _orient.io_orientation(img.affine)[:3]
    voxel_axis = int(np.flatnonzero(ornt[:, 0] == axis)[0])
    count = shape3[voxel_axis]
    if not 0 <= index < count:
        raise MediaError(f"the view has {count} slices, not {index + 1}", stage="slices")
    stored = index if ornt[voxel_axis, 1] > 0 else count - 1 - index
    slicer: list[Any] = [slice(None)] * 3
    slicer[voxel_axis] = slice(stored, stored + 1)
    try:
        proxy = img.dataobj
        slab = np.asarray(proxy[(*slicer[: len(shape)], *([0] * (len(shape) - 3)))])
    except (OSError, ValueError, EOFError) as exc:
        raise MediaError(f"cannot read the voxel data: {exc}", stage="decode") from exc
    slab = slab.reshape([*shape3[:voxel_axis], 1, *shape3[voxel_axis + 1 :]])
    if slab.dtype.names or np.iscomplexobj(slab):
        message = "the voxels are not real numbers: a window does not apply"
        raise MediaError(message, stage="slices")
    plane = np.take(_orient.apply_orientation(slab, ornt), 0, axis=axis)
    # as nifti._slice_image: superior/anterior up, the patient's right on the image's left
    shown = np.ascontiguousarray(plane.T[::-1, ::-1], dtype=np.float64)
    return SliceValues(values=shown, window=_cal_window(img.header))


def _cal_window(header: Any) -> tuple[float, float] | None:
    """The header's display range (``cal_min..cal_max``, scaled values) as a window."""
    low, high = float(header["cal_min"]), float(header["cal_max"])
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return None
    return (low + high) / 2, high - low


def encode_values(values: NDArray[Any]) -> tuple[bytes, str]:
    """Little-endian ``int16`` when every value is an integer that fits, else ``float32``."""
    finite = values[np.isfinite(values)]
    integral = finite.size == values.size and bool(np.all(finite == np.round(finite)))
    if integral and (finite.size == 0 or (finite.min() >= -32768 and finite.max() <= 32767)):
        return values.astype("<i2").tobytes(), "int16"
    return np.nan_to_num(values).astype("<f4").tobytes(), "float32"


def windowed(values: NDArray[Any], center: float, width: float) -> NDArray[np.uint8]:
    """DICOM's linear VOI function (PS3.3 C.11.2.1.2.1) onto 0..255."""
    if not (math.isfinite(center) and math.isfinite(width)) or width < 1:
        raise ValueError("the window needs a finite center and a width of at least 1")
    low = center - 0.5 - (width - 1) / 2
    high = center - 0.5 + (width - 1) / 2
    return array_to_8bit(values, low, high)


def window_png(data: SliceValues, center: float, width: float) -> bytes:
    """The slice windowed to an 8-bit greyscale PNG (MONOCHROME1 inverted)."""
    grey = windowed(data.values, center, width)
    if data.invert:
        grey = 255 - grey
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(grey), "L").save(out, format="PNG", compress_level=1)
    return out.getvalue()
