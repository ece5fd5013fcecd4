"""Small shared helpers: size rules, 8-bit conversion, JPEG/PNG encoding, writing a section.

Size rules (V7's, as darwin-py's extractor applies them):
- thumbnail: fit within 356x200, aspect kept, never upscaled;
- low quality: at most 720 px high (the issue's rule; darwin-py's extractor halves above 720,
  which would leave 4K playback frames at 1080p); height kept up to 720, else scaled to 720,
  width follows the aspect ratio and is even.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from moorage.media.base import DerivativeSink, SectionInfo, hq_name, lq_name

__all__ = [
    "HQ_JPEG_QUALITY",
    "LQ_JPEG_QUALITY",
    "THUMB_BOX",
    "THUMB_QUALITY",
    "array_to_8bit",
    "encode_jpeg",
    "encode_png",
    "fit_within",
    "lq_size",
    "thumbnail_of",
    "to_display_mode",
    "write_section",
]

THUMB_BOX = (356, 200)
THUMB_QUALITY = 50
HQ_JPEG_QUALITY = 90
LQ_JPEG_QUALITY = 75
LQ_MAX_HEIGHT = 720


def fit_within(width: int, height: int, box: tuple[int, int] = THUMB_BOX) -> tuple[int, int]:
    """The size that fits ``box`` keeping the aspect ratio, never larger than the original."""
    scale = min(box[0] / width, box[1] / height, 1.0)
    if scale >= 1.0:
        return width, height
    # Round each side, as ImageMagick's "356x200>" does (4000x3000 -> 267x200).
    return max(1, round(width * scale)), max(1, round(height * scale))


def lq_size(width: int, height: int) -> tuple[int, int]:
    if height <= LQ_MAX_HEIGHT:
        return width, height
    new_h = LQ_MAX_HEIGHT
    new_w = max(2, 2 * round(width * new_h / height / 2))
    return new_w, new_h


def array_to_8bit(
    arr: NDArray[Any], low: float | None = None, high: float | None = None
) -> NDArray[np.uint8]:
    """Map ``[low, high]`` (default: the array's min and max) linearly onto 0..255."""
    if arr.dtype == np.uint8 and low is None and high is None:
        return arr
    data = arr.astype(np.float32, copy=False)
    lo = float(np.nanmin(data)) if low is None else low
    hi = float(np.nanmax(data)) if high is None else high
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    out = (data - lo) * (255.0 / (hi - lo))
    np.clip(out, 0, 255, out=out)
    result: NDArray[np.uint8] = np.nan_to_num(out, nan=0.0).astype(np.uint8)
    return result


_PASS_MODES = {"L", "RGB"}


def to_display_mode(img: Image.Image) -> Image.Image:
    """An 8-bit L or RGB image a JPEG/PNG encoder and any browser accept.

    16-bit and 32-bit greyscale are stretched from their min to their max (a 16-bit file using
    its whole range therefore maps like a divide by 257); alpha is composited over white.
    """
    mode = img.mode
    if mode in _PASS_MODES:
        return img
    if mode in {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}:
        return Image.fromarray(array_to_8bit(np.asarray(img)), "L")
    if mode in {"RGBA", "LA", "PA"} or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode in {"1", "L;16"}:
        return img.convert("L")
    return img.convert("RGB")


def encode_jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    if img.mode not in {"L", "RGB", "RGBX", "CMYK", "YCbCr"}:
        img = to_display_mode(img)
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def encode_png(img: Image.Image) -> bytes:
    # Level 1: a fraction of the default level's time for files a few percent larger.
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def thumbnail_of(img: Image.Image) -> tuple[bytes, int, int]:
    """JPEG q50 thumbnail of an already decoded image."""
    img = to_display_mode(img)
    w, h = fit_within(*img.size)
    if (w, h) != img.size:
        img = img.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return encode_jpeg(img, THUMB_QUALITY), w, h


def write_section(
    sink: DerivativeSink,
    index: int,
    img: Image.Image,
    *,
    hq_format: str = "png",
    with_lq: bool = True,
) -> SectionInfo:
    """Encode one section (hq full size, lq per the size rule) and hand both to the sink."""
    img = to_display_mode(img)
    width, height = img.size
    if hq_format == "png":
        hq = hq_name(index, "png")
        sink.put(hq, encode_png(img), "image/png")
    else:
        hq = hq_name(index, "jpg")
        sink.put(hq, encode_jpeg(img, HQ_JPEG_QUALITY), "image/jpeg")
    lq: str | None = None
    if with_lq:
        small = img
        size = lq_size(width, height)
        if size != img.size:
            small = img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        lq = lq_name(index)
        sink.put(lq, encode_jpeg(small, LQ_JPEG_QUALITY), "image/jpeg")
    return SectionInfo(index=index, width=width, height=height, hq_name=hq, lq_name=lq)
