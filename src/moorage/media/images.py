"""Images: png, jpeg, tiff (16-bit, multi-page), bmp, webp, gif.

Layout of an image slot:
- ``width``/``height`` are the upright size (after EXIF orientation), read from the header.
- ``thumbnail.jpg`` always (JPEG q50 within 356x200, never upscaled). JPEGs are decoded
  straight at a 1/2..1/8 scale, so no full-size image is ever built: at 1/8 (large photos) by
  :mod:`moorage.media.jpeg_dc`, which skips what that scale does not use, otherwise (and for
  progressive, CMYK and other JPEGs it leaves alone) by libjpeg-turbo. Same pixels either way.
- **No sections when the original is browser-viewable as is**: JPEG/PNG/GIF/WebP/BMP in an
  8-bit mode with no EXIF rotation. The viewer shows the original; ``total_sections`` is 1.
- **Otherwise every page is rendered to a section**: TIFF, 16/32-bit or float samples (stretched
  min..max to 8-bit), CMYK, EXIF-rotated files, and every page of a multi-page TIFF. hq is the
  upright 8-bit page (PNG for lossless sources, JPEG q90 for JPEG sources), lq a JPEG per the
  low-quality size rule. ``metadata["rendered"]`` says which case applied.
- **Several files in one slot** (same ``slot_name``): every page of every file is rendered, in
  the order given; ``metadata.files`` lists ``{file, first_section, format}``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import simplejpeg  # type: ignore[import-untyped]
from PIL import Image, ImageOps, UnidentifiedImageError

from moorage.media.base import (
    THUMBNAIL_NAME,
    DerivativeSink,
    MediaError,
    Progress,
    SectionInfo,
    SlotResult,
    Stage,
)
from moorage.media.jpeg_dc import eighth_size, thumbnail_from_dc
from moorage.media.limits import NO_LIMITS, Limits
from moorage.media.render import (
    THUMB_QUALITY,
    encode_jpeg,
    fit_within,
    thumbnail_of,
    to_display_mode,
    write_section,
)

__all__ = ["make_thumbnail", "open_image", "process_image"]

Source = Path | bytes | BinaryIO

BROWSER_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "BMP", "MPO"}
BROWSER_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA"}
EXIF_ORIENTATION = 0x0112
# Orientations 5..8 swap width and height.
TRANSPOSED = {5, 6, 7, 8}


@contextmanager
def open_image(src: Source) -> Iterator[Image.Image]:
    """Open lazily (header only); decoding errors surface on ``load``."""
    fp: Path | BinaryIO = io.BytesIO(src) if isinstance(src, bytes) else src
    try:
        img = Image.open(fp)
    except UnidentifiedImageError as exc:
        raise MediaError(f"not a readable image: {exc}", stage="probe") from exc
    except Image.DecompressionBombError as exc:
        raise MediaError(f"image too large to render: {exc}", stage="probe") from exc
    except OSError as exc:
        raise MediaError(f"cannot open image: {exc}", stage="probe") from exc
    try:
        yield img
    finally:
        img.close()


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # malformed EXIF must not fail the image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright_size(img: Image.Image, orientation: int) -> tuple[int, int]:
    w, h = img.size
    return (h, w) if orientation in TRANSPOSED else (w, h)


def _load(img: Image.Image, stage: Stage) -> None:
    try:
        img.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise MediaError(f"cannot decode image: {exc}", stage=stage) from exc


# Pillow's exif_transpose table: orientation -> the transpose that shows the image upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _scaled_jpeg(data: bytes, img: Image.Image, request: tuple[int, int]) -> Image.Image:
    """Decode at the smallest 1/2^k scale still >= ``request`` with libjpeg-turbo.

    A 4000x3000 photo decodes straight to 500x375 (DCT-domain scaling: every coefficient is
    still entropy-decoded, but no full-size image is ever built) for a 267x200 thumbnail.
    simplejpeg does it ~5% faster than Pillow's draft mode and releases the GIL.
    """
    grey = img.mode == "L"
    try:
        arr = simplejpeg.decode_jpeg(
            data, colorspace="GRAY" if grey else "RGB", min_width=request[0], min_height=request[1]
        )
    except ValueError as exc:
        raise MediaError(f"cannot decode image: {exc}", stage="decode") from exc
    return Image.fromarray(arr[..., 0] if grey else arr, "L" if grey else "RGB")


def _thumbnail_from_open(
    img: Image.Image, orientation: int, data: bytes | None = None
) -> tuple[bytes, int, int]:
    target = fit_within(*_upright_size(img, orientation))
    request = (target[1], target[0]) if orientation in TRANSPOSED else target
    frame: Image.Image
    if img.format in ("JPEG", "MPO") and img.mode in ("RGB", "L") and data is not None:
        eighth = eighth_size(*img.size)
        small = None
        if eighth[0] >= request[0] and eighth[1] >= request[1]:
            small = thumbnail_from_dc(data, request)
        frame = small or _scaled_jpeg(data, img, request)
        if orientation in _UPRIGHT:
            frame = frame.transpose(_UPRIGHT[orientation])
    else:
        if img.format in ("JPEG", "MPO"):  # CMYK and friends: Pillow's draft, same scaling
            img.draft(None, request)
        _load(img, "decode")
        frame = ImageOps.exif_transpose(img) if orientation != 1 else img
    frame = to_display_mode(frame)
    if frame.size != target:
        # Bicubic after DCT scaling matches Lanczos from full size (see benchmarks/README.md).
        frame = frame.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)
    try:
        return encode_jpeg(frame, THUMB_QUALITY), target[0], target[1]
    except (OSError, ValueError) as exc:
        raise MediaError(f"cannot encode thumbnail: {exc}", stage="thumbnail") from exc


def _read(src: Source) -> bytes:
    if isinstance(src, bytes):
        return src
    if isinstance(src, str | os.PathLike):
        src = Path(src)
        try:
            return src.read_bytes()
        except OSError as exc:
            raise MediaError(f"cannot read {src.name}: {exc}", stage="probe") from exc
    return src.read()


def make_thumbnail(src: Source) -> tuple[bytes, int, int]:
    """JPEG (quality 50) fitting 356x200, upright, never upscaled: ``(jpeg, width, height)``."""
    data = _read(src)
    with open_image(data) as img:
        return _thumbnail_from_open(img, _orientation(img), data)


def _needs_render(img: Image.Image, orientation: int) -> bool:
    pages = getattr(img, "n_frames", 1)
    return (
        img.format not in BROWSER_FORMATS
        or img.mode not in BROWSER_MODES
        or orientation != 1
        or (img.format == "TIFF" and pages > 1)
    )


def _page_count(img: Image.Image) -> int:
    return int(getattr(img, "n_frames", 1)) if img.format == "TIFF" else 1


def _pages(img: Image.Image) -> Iterator[Image.Image]:
    """Every page of a multi-page TIFF, or the one frame of anything else."""
    if img.format != "TIFF":
        yield img
        return
    for page in range(getattr(img, "n_frames", 1)):
        try:
            img.seek(page)
        except EOFError as exc:
            raise MediaError(f"page {page + 1} missing: {exc}", stage="decode") from exc
        yield img


def process_image(
    sources: list[Path],
    *,
    sink: DerivativeSink,
    progress: Progress | None = None,
    limits: Limits = NO_LIMITS,
) -> SlotResult:
    """Thumbnail plus, when needed, rendered sections (see the module docstring)."""
    if not sources:
        raise MediaError("no file given", stage="probe")
    if len(sources) > 1:
        return _image_series(sources, sink, progress, limits)
    path = sources[0]
    with open_image(path) as img:
        orientation = _orientation(img)
        width, height = _upright_size(img, orientation)
        metadata: dict[str, Any] = {
            "width": width,
            "height": height,
            "format": img.format,
            "mode": img.mode,
        }
        if orientation != 1:
            metadata["exif_orientation"] = orientation
        if not _needs_render(img, orientation):
            data = _read(path) if img.format in ("JPEG", "MPO") else None
            thumb, _, _ = _thumbnail_from_open(img, orientation, data)
            sink.put(THUMBNAIL_NAME, thumb, "image/jpeg")
            metadata["rendered"] = False
            if progress:
                progress(1, 1)
            return SlotResult(width, height, 1, metadata, [], THUMBNAIL_NAME)
        limits.pages(_page_count(img), what="the image has")
        sections = _render(img, orientation, sink, 1, progress)
    first = sections[0]
    metadata.update(rendered=True, width=first.width, height=first.height)
    if len(sections) > 1:
        metadata["pages"] = len(sections)
    return SlotResult(first.width, first.height, len(sections), metadata, sections, THUMBNAIL_NAME)


def _image_series(
    sources: list[Path], sink: DerivativeSink, progress: Progress | None, limits: Limits
) -> SlotResult:
    """Several files in one slot: every page of every file becomes a section, in the given
    order; ``metadata.files`` says where each file starts."""
    sections: list[SectionInfo] = []
    files: list[dict[str, Any]] = []
    for number, path in enumerate(sources, start=1):
        with open_image(path) as img:
            start = len(sections) + 1
            limits.pages(len(sections) + _page_count(img), what="the images have at least")
            sections += _render(img, _orientation(img), sink, start, None)
            files.append({"file": path.name, "first_section": start, "format": img.format})
        if progress:
            progress(number, len(sources))
    first = sections[0]
    metadata: dict[str, Any] = {
        "width": first.width,
        "height": first.height,
        "rendered": True,
        "files": files,
    }
    return SlotResult(first.width, first.height, len(sections), metadata, sections, THUMBNAIL_NAME)


def _render(
    img: Image.Image,
    orientation: int,
    sink: DerivativeSink,
    start: int,
    progress: Progress | None,
) -> list[SectionInfo]:
    """Render every page as sections ``start``, ``start + 1``...; section 1 gives the thumbnail."""
    n_pages = _page_count(img)
    hq_format = "jpg" if img.format in {"JPEG", "MPO"} else "png"
    sections: list[SectionInfo] = []
    for offset, page in enumerate(_pages(img)):
        number = start + offset
        _load(page, "decode")
        upright = ImageOps.exif_transpose(page) if orientation != 1 else page
        frame = to_display_mode(upright)
        try:
            sections.append(write_section(sink, number, frame, hq_format=hq_format))
        except (OSError, ValueError) as exc:
            raise MediaError(f"cannot render page {number}: {exc}", stage="decode") from exc
        if number == 1:
            thumb, _, _ = thumbnail_of(frame)
            sink.put(THUMBNAIL_NAME, thumb, "image/jpeg")
        if progress:
            progress(offset + 1, n_pages)
    return sections
