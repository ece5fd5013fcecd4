"""The per-frame work of the video pipeline: colour, scaling, rotation and JPEG encoding.

Frames go to libjpeg-turbo (through ``simplejpeg``) straight from their YUV 4:2:0 planes: no
RGB conversion, no chroma resampling, and the GIL is released while encoding, so a thread pool
keeps every core busy next to the decoder. Alternatives measured on 1080p frames (2 cores):
Pillow holds the GIL while it encodes (two threads run at 0.95x one thread); FFmpeg's MJPEG
encoder (the ffmpeg CLI's) releases it but costs 5-8 ms a frame against 3-3.7 ms here for the
same file size. hq is quality 90 (the size of ``ffmpeg -q:v 2``), lq quality 75 (about
darwin-py's ``-q 5``).

JPEG decoders assume full-range YUV with BT.601 coefficients, so frames are converted to that
in swscale: limited-range sources are expanded, and sources tagged BT.709 / BT.2020 / SMPTE 240M
(most HD footage is BT.709) have their matrix converted, so colours match the source (the
ffmpeg CLI's automatic conversion keeps the matrix; on a BT.709 clip that costs ~10 dB PSNR).
HDR transfer functions are not tone-mapped. The lq frame is scaled in swscale (bilinear) before
rotation; rotation turns the planes with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import simplejpeg  # type: ignore[import-untyped]
from numpy.typing import NDArray
from PIL import Image

from moorage.media.render import lq_size, thumbnail_of

__all__ = ["HQ_QUALITY", "LQ_QUALITY", "EncodedFrame", "encode_frame", "frame_thumbnail"]

HQ_QUALITY = 90
LQ_QUALITY = 75
_JPEG_RANGE = 2
# AVColorSpace values whose matrix differs from BT.601, and swscale's name for each.
_MATRICES = {1: "ITU709", 4: "FCC", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}

Planes = list[NDArray[np.uint8]]


@dataclass
class EncodedFrame:
    section: int
    hq: bytes
    lq: bytes
    thumb: tuple[bytes, int, int] | None
    width: int
    height: int


def _jpeg_yuv(frame: Any, width: int | None = None, height: int | None = None) -> Any:
    """Full-range BT.601 YUV 4:2:0, optionally scaled."""
    options: dict[str, Any] = {"format": "yuv420p", "dst_color_range": _JPEG_RANGE}
    matrix = _MATRICES.get(int(frame.colorspace))
    if matrix is not None:
        options.update(src_colorspace=matrix, dst_colorspace="ITU601")
    if width is not None and (width, height) != (frame.width, frame.height):
        options.update(width=width, height=height, interpolation="BILINEAR")
    return frame.reformat(**options)


def _planes(frame: Any) -> Planes:
    """Views (no copy) of a yuv420p frame's Y, U and V planes, without their row padding."""
    w, h = frame.width, frame.height
    sizes = ((w, h), ((w + 1) // 2, (h + 1) // 2), ((w + 1) // 2, (h + 1) // 2))
    out: Planes = []
    for plane, (pw, ph) in zip(frame.planes, sizes, strict=True):
        stride = plane.line_size
        rows = np.frombuffer(plane, np.uint8, count=ph * stride).reshape(ph, stride)
        out.append(rows[:, :pw])
    return out


def _rotate(planes: Planes, rotation: int) -> Planes:
    """Turn the planes ``rotation`` degrees counter-clockwise (90, 180 or 270)."""
    if not rotation:
        return planes
    return [np.ascontiguousarray(np.rot90(p, rotation // 90)) for p in planes]


def _encode(planes: Planes, quality: int) -> bytes:
    data: bytes = simplejpeg.encode_jpeg_yuv_planes(*planes, quality=quality)
    return data


def _rgb(frame: Any, rotation: int) -> Image.Image:
    rgb = frame.to_ndarray(format="rgb24")
    if rotation:
        rgb = np.ascontiguousarray(np.rot90(rgb, rotation // 90))
    return Image.fromarray(rgb, "RGB")


def encode_frame(frame: Any, section: int, rotation: int, want_thumb: bool) -> EncodedFrame:
    """hq (full size) and lq JPEGs of a decoded frame, and the thumbnail when asked.

    Runs in a worker thread; swscale and libjpeg-turbo release the GIL.
    """
    full = _jpeg_yuv(frame)
    turned = rotation in (90, 270)
    width, height = (full.height, full.width) if turned else (full.width, full.height)
    hq = _encode(_rotate(_planes(full), rotation), HQ_QUALITY)
    lw, lh = lq_size(width, height)
    small = _jpeg_yuv(full, *((lh, lw) if turned else (lw, lh)))
    lq = _encode(_rotate(_planes(small), rotation), LQ_QUALITY)
    thumb = thumbnail_of(_rgb(small, rotation)) if want_thumb else None
    return EncodedFrame(section, hq, lq, thumb, width, height)


def frame_thumbnail(frame: Any, rotation: int) -> tuple[bytes, int, int]:
    return thumbnail_of(_rgb(_jpeg_yuv(frame), rotation))
