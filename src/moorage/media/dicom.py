"""DICOM (pydicom with the pylibjpeg / pyjpegls plugins): single, multi-frame and series.

One slot = one series: every file's frames, the files ordered by position along the slice
normal, then InstanceNumber (``dicom_geometry.order_series``), whatever order they came in.
Each frame becomes a section: hq an 8-bit PNG of the displayed frame, lq a JPEG (lq size
rule). Frames are decoded one at a time, so memory holds a single frame.

Display: the modality LUT (rescale slope/intercept, or a Modality LUT Sequence) is applied,
then the file's first window (WindowCenter/WindowWidth, DICOM's linear formula); without a
window, each frame's min..max. MONOCHROME1 is inverted, PALETTE COLOR expanded, YBR converted
to RGB, and RGB deeper than 8 bits scaled down. The thumbnail is the middle frame.

``metadata.medical``: modality, pixel_spacing ``[row, column]`` mm, slice_thickness,
slice_spacing, orientation (ImageOrientationPatient), position (of the first slice),
affine (4x4 LPS, see ``dicom_geometry``), window ``{center, width}`` or None, rescale,
photometric, bits_stored, series/study UIDs and series_number. ``metadata.series`` lists the
files in section order: ``{file, instance_number, position, frames, first_section}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut
from pydicom.pixels.utils import iter_pixels

from moorage.media.base import THUMBNAIL_NAME, DerivativeSink, MediaError, Progress, SlotResult
from moorage.media.dicom_geometry import (
    Header,
    affine_for,
    first_value,
    order_series,
    read_header,
    slice_spacing,
)
from moorage.media.limits import NO_LIMITS, Limits
from moorage.media.render import array_to_8bit, thumbnail_of, write_section

__all__ = ["decodable", "process_dicom", "render_frame", "window_of"]


def _window(ds: Dataset) -> tuple[float, float] | None:
    center = first_value(ds.get("WindowCenter"))
    width = first_value(ds.get("WindowWidth"))
    if center is None or width is None:
        for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
            items = ds.get(groups)
            voi = items[0].get("FrameVOILUTSequence") if items else None
            if voi:
                center = first_value(voi[0].get("WindowCenter"))
                width = first_value(voi[0].get("WindowWidth"))
                break
    try:
        c, w = float(center), float(width)
    except (TypeError, ValueError):
        return None
    return (c, w) if w >= 1 else None


def window_of(ds: Dataset) -> tuple[float, float] | None:
    """The file's first window ``(center, width)`` (also from the functional groups), or None."""
    return _window(ds)


def _rescale(ds: Dataset) -> tuple[float, float]:
    slope = ds.get("RescaleSlope")
    intercept = ds.get("RescaleIntercept")
    if slope is None:
        items = ds.get("SharedFunctionalGroupsSequence")
        pvt = items[0].get("PixelValueTransformationSequence") if items else None
        if pvt:
            slope, intercept = pvt[0].get("RescaleSlope"), pvt[0].get("RescaleIntercept")
    try:
        return float(slope if slope is not None else 1), float(intercept or 0)
    except (TypeError, ValueError):
        return 1.0, 0.0


def _apply_window(values: NDArray[Any], center: float, width: float) -> NDArray[np.uint8]:
    # DICOM PS3.3 C.11.2.1.2.1, linear function.
    low = center - 0.5 - (width - 1) / 2
    high = center - 0.5 + (width - 1) / 2
    return array_to_8bit(values, low, high)


def render_frame(arr: NDArray[Any], ds: Dataset, window: tuple[float, float] | None) -> Image.Image:
    """One decoded frame as a displayable 8-bit L or RGB image."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        if arr.dtype != np.uint8:  # 16-bit LUT entries
            arr = (arr.astype(np.float32) / 257.0).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        if arr.dtype != np.uint8:
            bits = int(ds.get("BitsStored") or arr.dtype.itemsize * 8)
            arr = (arr.astype(np.float64) * (255.0 / (2**bits - 1))).astype(np.uint8)
        return Image.fromarray(np.ascontiguousarray(arr[..., :3]), "RGB")
    values = apply_modality_lut(arr, ds) if _has_modality_lut(ds) else _linear(arr, ds)
    if window is not None:
        grey = _apply_window(values, *window)
    elif values.dtype == np.uint8 and int(ds.get("BitsStored") or 8) == 8:
        grey = values
    else:
        grey = array_to_8bit(values, float(values.min()), float(values.max()))
    if photometric == "MONOCHROME1":
        grey = 255 - grey
    return Image.fromarray(np.ascontiguousarray(grey), "L")


def _has_modality_lut(ds: Dataset) -> bool:
    return "ModalityLUTSequence" in ds


def _linear(arr: NDArray[Any], ds: Dataset) -> NDArray[Any]:
    slope, intercept = _rescale(ds)
    if slope == 1.0 and intercept == 0.0:
        return arr
    return arr.astype(np.float32) * slope + intercept


def decodable(header: Header) -> Any:
    """What pydicom decodes the file's frames from: its path, or the dataset read whole
    (deflated files, and files read with ``force``)."""
    source: Any = header.path
    meta = getattr(header.ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is not None and not header.forced and syntax.is_deflated:
        # pydicom decodes deflated files only from a fully read dataset.
        source = pydicom.dcmread(header.path)
    elif header.forced:
        source = pydicom.dcmread(header.path, force=True)
        if not hasattr(source, "file_meta") or "TransferSyntaxUID" not in source.file_meta:
            source.file_meta = pydicom.dataset.FileMetaDataset()
            source.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    return source


def _frames(header: Header) -> Any:
    """Decoded frames of one file, one at a time."""
    source = decodable(header)
    try:
        yield from iter_pixels(source)
    except (ValueError, RuntimeError, NotImplementedError, OSError, AttributeError) as exc:
        raise MediaError(
            f"{header.path.name}: cannot decode pixel data: {exc}", stage="decode"
        ) from exc


def _check_limits(headers: list[Header], limits: Limits) -> None:
    """From the headers alone: frames of the series, and the bytes of one decoded frame."""
    limits.slices(sum(h.frames for h in headers), what="the series has")
    for header in headers:
        ds = header.ds
        try:
            frame_bytes = (
                int(ds.get("Rows") or 0)
                * int(ds.get("Columns") or 0)
                * int(ds.get("SamplesPerPixel") or 1)
                * max(1, int(ds.get("BitsAllocated") or 8) // 8)
            )
        except (TypeError, ValueError) as exc:
            message = f"{header.path.name}: malformed DICOM header: {exc}"
            raise MediaError(message, stage="probe") from exc
        limits.volume_bytes(frame_bytes, what=f"{header.path.name}: one frame holds")


def process_dicom(
    sources: list[Path],
    *,
    sink: DerivativeSink,
    progress: Progress | None = None,
    limits: Limits = NO_LIMITS,
) -> SlotResult:
    if not sources:
        raise MediaError("no file given", stage="probe")
    ordered = order_series([read_header(p) for p in sources])
    _check_limits(ordered, limits)
    total = sum(h.frames for h in ordered)
    middle = total // 2
    first_ds = ordered[0].ds
    window = _window(first_ds)
    sections = []
    series: list[dict[str, Any]] = []
    number = 0
    thumb_done = False
    img: Image.Image | None = None
    for header in ordered:
        series.append(
            {
                "file": header.path.name,
                "instance_number": header.instance_number,
                "position": header.position,
                "frames": header.frames,
                "first_section": number + 1,
            }
        )
        file_window = _window(header.ds) or window
        for arr in _frames(header):
            number += 1
            try:
                img = render_frame(arr, header.ds, file_window)
                sections.append(write_section(sink, number, img, hq_format="png"))
            except (ValueError, TypeError, OSError, KeyError) as exc:
                raise MediaError(
                    f"{header.path.name}: cannot render frame: {exc}", stage="slices"
                ) from exc
            if number - 1 == middle:
                _put_thumbnail(sink, img)
                thumb_done = True
            if progress:
                progress(number, max(total, number))
    if img is not None and not thumb_done:
        _put_thumbnail(sink, img)
    if not sections:
        raise MediaError("the DICOM files hold no frames", stage="slices")
    first = sections[0]
    metadata: dict[str, Any] = {
        "width": first.width,
        "height": first.height,
        "frames": len(sections),
        "medical": _medical(ordered, window),
        "series": series,
    }
    return SlotResult(first.width, first.height, len(sections), metadata, sections, THUMBNAIL_NAME)


def _put_thumbnail(sink: DerivativeSink, img: Image.Image) -> None:
    try:
        thumb, _, _ = thumbnail_of(img)
    except (ValueError, OSError) as exc:
        raise MediaError(f"cannot make the thumbnail: {exc}", stage="thumbnail") from exc
    sink.put(THUMBNAIL_NAME, thumb, "image/jpeg")


def _medical(ordered: list[Header], window: tuple[float, float] | None) -> dict[str, Any]:
    first = ordered[0]
    ds = first.ds
    slope, intercept = _rescale(ds)
    return {
        "modality": str(ds.get("Modality", "")) or None,
        "pixel_spacing": first.spacing,
        "slice_thickness": first.thickness,
        "slice_spacing": slice_spacing(ordered),
        "orientation": first.orientation,
        "position": first.position,
        "affine": affine_for(ordered),
        "space": "LPS",
        "window": {"center": window[0], "width": window[1]} if window else None,
        "rescale": {"slope": slope, "intercept": intercept},
        "photometric": str(ds.get("PhotometricInterpretation", "")) or None,
        "bits_stored": int(ds.get("BitsStored") or 0) or None,
        "series_number": _int_or_none(ds.get("SeriesNumber")),
        "series_instance_uid": str(ds.get("SeriesInstanceUID", "")) or None,
        "study_instance_uid": str(ds.get("StudyInstanceUID", "")) or None,
    }


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
