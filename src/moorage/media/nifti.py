"""NIfTI-1/2 volumes (nibabel; ``.nii`` and ``.nii.gz``): slices, and optionally all three views.

The volume is reoriented to the closest canonical RAS+ voxel order (flips and axis swaps only,
never resampled), so slice ``i`` of a view is voxel index ``i`` of that RAS axis:
- ``axial``    slices along S, inferior -> superior;
- ``coronal``  slices along A, posterior -> anterior;
- ``sagittal`` slices along R, patient left -> right.
Each slice is shown in radiological convention: superior (axial: anterior) at the top, the
patient's right on the image's left (sagittal: anterior on the left). Pixels are voxels, not
resampled: ``views[].pixel_spacing`` (mm, ``[row, column]``) says how to stretch them.

The **primary view** is the acquisition's slice axis: the header's ``dim_info`` slice dimension
when set, else the third voxel axis. Section layout: the primary view's slices come first
(sections ``1..n``); with ``extract_views`` the two other views follow in the fixed order
axial, coronal, sagittal (skipping the primary). ``metadata.views`` names each block:
``{name, axis, first_section, count, width, height, pixel_spacing}``; width/height of the slot
are the primary view's.

4-D files use the first volume (``metadata.medical.volumes`` gives the count). Display range:
the header's ``cal_min..cal_max`` when set, else the 0.5th..99.5th percentile of the volume, the
same for every slice. hq is an 8-bit PNG, lq a JPEG. The whole volume is read once in its stored
dtype (a 512x512x400 int16 volume holds 200 MB).

``metadata.medical``: affine (the file's own 4x4, RAS mm), canonical_affine, pixdims
(canonical order), space "RAS", shape, dtype, slope/intercept, volumes, primary_view.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError, HeaderTypeError
from numpy.typing import NDArray
from PIL import Image

from moorage.media.base import THUMBNAIL_NAME, DerivativeSink, MediaError, Progress, SlotResult
from moorage.media.limits import NO_LIMITS, Limits
from moorage.media.render import array_to_8bit, thumbnail_of, write_section

__all__ = ["VIEW_NAMES", "process_nifti"]

# Canonical RAS axis -> view name.
VIEW_NAMES = {0: "sagittal", 1: "coronal", 2: "axial"}
_VIEW_ORDER = (2, 1, 0)
_SAMPLE = 2_000_000
# nibabel ships no type hints.
_orient: Any = nib.orientations


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of the file, decompressed when it is gzipped."""
    opener: Any = gzip.open if _is_gzip(path) else open
    with opener(path, "rb") as fh:
        data: bytes = fh.read(size)
    return data


def _read_header(path: Path) -> Any:
    """The NIfTI-1 or -2 header alone: no voxel is read."""
    try:
        head = _read_head(path, nib.Nifti2Header.sizeof_hdr)
        nifti2 = head[:4] in (b"\x1c\x02\x00\x00", b"\x00\x00\x02\x1c")
        klass: Any = nib.Nifti2Header if nifti2 else nib.Nifti1Header
        if len(head) < klass.sizeof_hdr:
            raise ValueError("the file is shorter than a NIfTI header")
        return klass(binaryblock=head[: klass.sizeof_hdr])
    except (HeaderDataError, HeaderTypeError, OSError, ValueError, EOFError) as exc:
        raise MediaError(f"not a readable NIfTI file: {exc}", stage="probe") from exc


def _check_header(
    path: Path, header: Any, limits: Limits, *, extract_views: bool
) -> tuple[int, int]:
    """Caps from the header, before any voxel is allocated: slices made and voxel bytes held.

    Returns the bytes of the first volume and of the whole file's voxel data.
    """
    shape = [int(n) for n in header.get_data_shape()]
    if len(shape) < 2 or min(shape) < 1:
        raise MediaError("not a NIfTI image volume", stage="probe")
    shape3 = [*shape, 1, 1][:3]
    itemsize = header.get_data_dtype().itemsize
    volume = math.prod(shape3) * itemsize
    everything = math.prod(shape) * itemsize
    limits.volume_bytes(volume, what="the header claims")
    ornt = _orient.io_orientation(header.get_best_affine())
    canonical = [0, 0, 0]
    for voxel_axis, size in enumerate(shape3):
        canonical[int(ornt[voxel_axis][0])] = size
    primary = _primary_from(header.get_dim_info(), ornt)
    axes = [primary] + ([a for a in _VIEW_ORDER if a != primary] if extract_views else [])
    limits.slices(sum(canonical[a] for a in axes))
    if not _is_gzip(path):
        needed = int(header.get_data_offset()) + volume
        held = path.stat().st_size
        if held < needed:
            message = f"the header claims {needed} bytes of voxel data; the file holds {held}"
            raise MediaError(message, stage="decode")
    return volume, everything


def _load(path: Path, header: Any, everything: int, limits: Limits) -> Any:
    try:
        name = path.name.lower()
        if name.endswith((".nii", ".nii.gz")):
            img = nib.load(str(path))
        else:
            # read into memory whole: bounded by what the header claims, so no gzip bomb
            limits.volume_bytes(everything, what="the file's volumes hold")
            raw = _read_head(path, int(header.get_data_offset()) + everything)
            klass = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
            img = klass.from_bytes(raw)
    except (ImageFileError, OSError, ValueError, EOFError, gzip.BadGzipFile) as exc:
        raise MediaError(f"not a readable NIfTI file: {exc}", stage="probe") from exc
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image) or len(img.shape) < 2:
        raise MediaError("not a NIfTI image volume", stage="probe")
    return img


def _raw_volume(img: Any) -> NDArray[Any]:
    """The first 3-D volume, stored values (display ignores a positive linear scaling)."""
    try:
        proxy = img.dataobj
        data = proxy.get_unscaled() if hasattr(proxy, "get_unscaled") else np.asarray(proxy)
    except (OSError, ValueError, EOFError, gzip.BadGzipFile) as exc:
        raise MediaError(f"cannot read the voxel data: {exc}", stage="decode") from exc
    data = np.asarray(data)
    if data.dtype.names:  # RGB / RGBA voxels: show their mean
        data = np.mean([data[name].astype(np.float32) for name in data.dtype.names], axis=0)
    while data.ndim > 3:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., np.newaxis]
    if np.iscomplexobj(data):
        data = np.abs(data)
    return data


def _display_range(img: Any, data: NDArray[Any]) -> tuple[float, float]:
    header = img.header
    slope, inter = header.get_slope_inter()
    cal_min, cal_max = float(header["cal_min"]), float(header["cal_max"])
    if cal_max > cal_min:
        if slope and slope > 0:
            return (cal_min - (inter or 0.0)) / slope, (cal_max - (inter or 0.0)) / slope
        if not slope:
            return cal_min, cal_max
    flat = data.reshape(-1)
    stride = max(1, flat.size // _SAMPLE)
    sample = flat[::stride].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(sample, [0.5, 99.5])
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    return float(low), float(high)


def _primary_axis(img: Any) -> int:
    """The canonical axis of the acquisition's slice direction."""
    return _primary_from(img.header.get_dim_info(), _orient.io_orientation(img.affine))


def _primary_from(dim_info: Any, ornt: Any) -> int:
    voxel_axis = dim_info[2] if dim_info[2] is not None else 2
    return int(ornt[min(voxel_axis, 2)][0])


def _slice_image(volume: NDArray[Any], axis: int, index: int, lo: float, hi: float) -> Image.Image:
    plane = np.take(volume, index, axis=axis)
    # plane is (first remaining RAS axis, second); show the second axis reversed as rows and
    # the first reversed as columns: superior/anterior up, patient right on the left.
    shown = plane.T[::-1, ::-1]
    return Image.fromarray(np.ascontiguousarray(array_to_8bit(shown, lo, hi)), "L")


def process_nifti(
    sources: list[Path],
    *,
    sink: DerivativeSink,
    extract_views: bool = False,
    progress: Progress | None = None,
    limits: Limits = NO_LIMITS,
) -> SlotResult:
    if not sources:
        raise MediaError("no file given", stage="probe")
    header = _read_header(sources[0])
    _, everything = _check_header(sources[0], header, limits, extract_views=extract_views)
    img = _load(sources[0], header, everything, limits)
    raw = _raw_volume(img)
    lo, hi = _display_range(img, raw)
    ornt = _orient.io_orientation(img.affine)
    canonical = _orient.apply_orientation(raw, ornt[:3])
    zooms = [float(z) for z in img.header.get_zooms()[:3]]
    zooms += [1.0] * (3 - len(zooms))
    pixdims = [zooms[int(np.flatnonzero(ornt[:3, 0] == ax)[0])] for ax in range(3)]
    primary = _primary_axis(img)
    axes = [primary] + ([a for a in _VIEW_ORDER if a != primary] if extract_views else [])
    total = sum(canonical.shape[a] for a in axes)
    views: list[dict[str, Any]] = []
    sections = []
    number = 0
    for axis in axes:
        count = canonical.shape[axis]
        rows_axis, cols_axis = [a for a in range(3) if a != axis][::-1]
        views.append(
            {
                "name": VIEW_NAMES[axis],
                "axis": "RAS"[axis],
                "first_section": number + 1,
                "count": count,
                "width": int(canonical.shape[cols_axis]),
                "height": int(canonical.shape[rows_axis]),
                "pixel_spacing": [pixdims[rows_axis], pixdims[cols_axis]],
            }
        )
        for index in range(count):
            number += 1
            try:
                frame = _slice_image(canonical, axis, index, lo, hi)
                sections.append(write_section(sink, number, frame, hq_format="png"))
                if axis == primary and index == count // 2:
                    thumb, _, _ = thumbnail_of(frame)
                    sink.put(THUMBNAIL_NAME, thumb, "image/jpeg")
            except (ValueError, OSError) as exc:
                raise MediaError(f"cannot render slice {number}: {exc}", stage="slices") from exc
            if progress:
                progress(number, total)
    first = views[0]
    canonical_affine = img.affine @ _orient.inv_ornt_aff(ornt[:3], raw.shape)
    metadata: dict[str, Any] = {
        "width": first["width"],
        "height": first["height"],
        "primary_view": first["name"],
        "slices": first["count"],
        "views": views,
        "medical": {
            "affine": _matrix(img.affine),
            "canonical_affine": _matrix(canonical_affine),
            "pixdims": pixdims,
            "space": "RAS",
            "shape": [int(s) for s in img.shape],
            "dtype": str(img.get_data_dtype()),
            "slope_intercept": [_num(v) for v in img.header.get_slope_inter()],
            "volumes": int(img.shape[3]) if len(img.shape) > 3 else 1,
            "primary_view": first["name"],
            "display_range": [lo, hi],
        },
    }
    return SlotResult(
        first["width"], first["height"], len(sections), metadata, sections, THUMBNAIL_NAME
    )


def _matrix(affine: NDArray[Any]) -> list[list[float]]:
    return [[round(float(v), 6) for v in row] for row in np.asarray(affine)]


def _num(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
