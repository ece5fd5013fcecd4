"""DICOM headers: reading them cheaply, ordering a series, geometry and layout keys.

Geometry follows DICOM's patient coordinate system (LPS, millimetres). The affine maps voxel
indices ``(column, row, slice)`` of the ordered series to patient coordinates:
``IPP_first + column * col_spacing * row_cosine + row * row_spacing * col_cosine + slice * step``
where ``step`` is the vector between consecutive slices (or the normal times the slice
thickness for a single slice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from moorage.media.base import MediaError

__all__ = [
    "Header",
    "affine_for",
    "dicom_layout_key",
    "first_value",
    "order_series",
    "read_header",
]

_LAYOUT_TAGS = ["SeriesNumber", "ImageLaterality", "Laterality", "ViewPosition"]


def first_value(value: Any) -> Any:
    """A multi-valued element's first value (WindowCenter often holds several)."""
    if value is None:
        return None
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return value[0] if len(value) else None
    return value


def _floats(value: Any, n: int) -> list[float] | None:
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return out if len(out) == n and all(math.isfinite(v) for v in out) else None


def _functional(ds: Dataset, sequence: str, attribute: str) -> Any:
    """An attribute from the shared, else the first per-frame, functional group (enhanced)."""
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        items = ds.get(groups)
        if not items:
            continue
        seq = items[0].get(sequence)
        if seq and attribute in seq[0]:
            return seq[0].get(attribute)
    return None


def _attr(ds: Dataset, name: str, sequence: str) -> Any:
    value = ds.get(name)
    return value if value is not None else _functional(ds, sequence, name)


@dataclass
class Header:
    path: Path
    ds: Dataset
    forced: bool
    frames: int
    instance_number: int | None
    position: list[float] | None
    orientation: list[float] | None
    spacing: list[float] | None
    thickness: float | None
    distance: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read_header(path: Path) -> Header:
    """The header only (pixel data is not read). Raises MediaError(stage="probe")."""
    forced = False
    try:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except InvalidDicomError:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            forced = True
    except (OSError, ValueError, EOFError, InvalidDicomError, AttributeError) as exc:
        raise MediaError(f"not a readable DICOM file: {exc}", stage="probe") from exc
    if "Rows" not in ds or "Columns" not in ds:
        raise MediaError(f"{path.name}: DICOM file has no image", stage="probe")
    number = ds.get("InstanceNumber")
    thickness = _attr(ds, "SliceThickness", "PixelMeasuresSequence")
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
        instance = int(number) if number not in (None, "") else None
        thick = float(thickness) if thickness not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise MediaError(f"{path.name}: malformed DICOM header: {exc}", stage="probe") from exc
    return Header(
        path=path,
        ds=ds,
        forced=forced,
        frames=max(frames, 1),
        instance_number=instance,
        position=_floats(_attr(ds, "ImagePositionPatient", "PlanePositionSequence"), 3),
        orientation=_floats(_attr(ds, "ImageOrientationPatient", "PlaneOrientationSequence"), 6),
        spacing=_floats(_attr(ds, "PixelSpacing", "PixelMeasuresSequence"), 2),
        thickness=thick,
    )


def _normal(orientation: list[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
    row, col = np.array(orientation[:3]), np.array(orientation[3:])
    return np.asarray(np.cross(row, col), dtype=np.float64)


def order_series(headers: list[Header]) -> list[Header]:
    """Sort by position along the slice normal, then InstanceNumber, then name.

    The normal comes from the first file carrying an orientation; files without a position sort
    after those with one. The result does not depend on the order the files were given in.
    """
    orientation = next((h.orientation for h in headers if h.orientation), None)
    normal = _normal(orientation) if orientation else None
    for header in headers:
        if normal is not None and header.position is not None:
            header.distance = float(np.dot(normal, header.position))
    return sorted(
        headers,
        key=lambda h: (
            h.distance is None,
            round(h.distance, 4) if h.distance is not None else 0.0,
            h.instance_number if h.instance_number is not None else 0,
            str(h.ds.get("SOPInstanceUID", "")),
            h.path.name,
        ),
    )


def affine_for(ordered: list[Header]) -> list[list[float]] | None:
    """The 4x4 LPS affine of the ordered series, or None without position/orientation."""
    first = ordered[0]
    if first.position is None or first.orientation is None:
        return None
    row_spacing, col_spacing = first.spacing or [1.0, 1.0]
    row_cos = np.array(first.orientation[:3])
    col_cos = np.array(first.orientation[3:])
    positioned = [h for h in ordered if h.position is not None]
    if len(positioned) > 1:
        span = np.array(positioned[-1].position) - np.array(first.position)
        step = span / (len(positioned) - 1)
    else:
        thickness = first.thickness or 1.0
        step = _normal(first.orientation) * thickness
    affine = np.eye(4)
    affine[:3, 0] = row_cos * col_spacing
    affine[:3, 1] = col_cos * row_spacing
    affine[:3, 2] = step
    affine[:3, 3] = first.position
    return [[round(float(v), 6) for v in row] for row in affine]


def slice_spacing(ordered: list[Header]) -> float | None:
    distances = [h.distance for h in ordered if h.distance is not None]
    if len(distances) < 2:
        return None
    gaps = np.diff(np.array(distances))
    return round(float(np.median(np.abs(gaps))), 6)


def dicom_layout_key(path: Path) -> tuple[int, str, str]:
    """``(series number, laterality, view position)`` for arranging multi-slot DICOM items.

    Read from the header alone. Missing values sort first (0 and empty strings).
    """
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_LAYOUT_TAGS, force=True)
    except (OSError, ValueError, EOFError, InvalidDicomError) as exc:
        raise MediaError(f"not a readable DICOM file: {exc}", stage="probe") from exc
    try:
        series = int(ds.get("SeriesNumber") or 0)
    except (TypeError, ValueError):
        series = 0
    laterality = str(ds.get("ImageLaterality") or ds.get("Laterality") or "").strip().upper()
    view = str(ds.get("ViewPosition") or "").strip().upper()
    return series, laterality, view
