"""Reduced-size JPEG decoding for thumbnails: the 1/8-scale image, twice as fast.

A 4000x3000 photo's thumbnail (267x200) needs the image at 1/8 scale: every luma block's mean,
its DC coefficient. libjpeg-turbo's 1/8 scaling gives those pixels but decodes every AC
coefficient's value on the way; :mod:`moorage.media._jpeg_kernels` reads past them with
multi-symbol tables and decodes values only where libjpeg-turbo's 1/8 scale uses them (4:2:0
chroma, 2x2 per block). The planes are libjpeg-turbo's, bit for bit (tests/media/test_jpeg_dc.py).

Only what is common and simple takes this path: baseline or extended sequential Huffman JPEG,
8-bit, greyscale or YCbCr, all components in one scan, restart markers allowed. Everything
else (progressive, arithmetic, 12-bit, CMYK, Adobe RGB, unusual sampling), and any stream
that does not decode cleanly, returns ``None``: the caller uses libjpeg-turbo.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from moorage.media import _jpeg_kernels as k
from moorage.media import _jpeg_tables as t
from moorage.media._jpeg_header import Component, Header, Unsupported, parse

__all__ = [
    "DcImage",
    "Unsupported",
    "decode_dc",
    "decode_dc_strict",
    "eighth_size",
    "thumbnail_from_dc",
]

_MAX_SEGMENTS = 1 << 20
_log = logging.getLogger(__name__)

I64 = NDArray[np.int64]


@dataclass(frozen=True)
class DcImage:
    """A JPEG at 1/8 scale, one plane per component, padded to whole MCUs."""

    width: int  # the image's own size
    height: int
    planes: list[NDArray[np.uint8]]
    sampling: list[tuple[int, int]]  # plane samples per MCU, across and down

    def plane(self, index: int) -> NDArray[np.uint8]:
        """Component ``index`` cropped to its real extent."""
        h, v = self.sampling[index]
        hmax = max(s[0] for s in self.sampling)
        vmax = max(s[1] for s in self.sampling)
        cols = -(-self.width * h // (8 * hmax))
        rows = -(-self.height * v // (8 * vmax))
        return self.planes[index][:rows, :cols]

    def resize(self, size: tuple[int, int]) -> Image.Image:
        """Resample every plane straight to ``size`` (mode ``L`` or ``RGB``); YCbCr becomes RGB
        only at that size.

        A plane covers the image exactly when mapped onto the extent ``width * h / (8 * hmax)``
        by ``height * v / (8 * vmax)``: the box below (blocks past it are padding). Chroma
        left coarser than luma (4:2:2, 4:1:1) is resampled once, from its own grid.
        """
        hmax = max(s[0] for s in self.sampling)
        vmax = max(s[1] for s in self.sampling)
        if len(set(self.sampling)) == 1:  # one grid: resample all planes in one pass
            box = (0.0, 0.0, self.width / 8, self.height / 8)
            if len(self.planes) == 1:
                image = Image.fromarray(self.planes[0], "L")
            else:
                image = Image.fromarray(np.dstack(self.planes), "YCbCr")
            resized = image.resize(size, Image.Resampling.BICUBIC, box=box)
            return resized if image.mode == "L" else resized.convert("RGB")
        channels = []
        for (h, v), plane in zip(self.sampling, self.planes, strict=True):
            box = (0.0, 0.0, self.width * h / (8 * hmax), self.height * v / (8 * vmax))
            # Coarser chroma takes the sharper filter, as libjpeg's upsampling would.
            sharp = (h, v) != (hmax, vmax)
            method = Image.Resampling.LANCZOS if sharp else Image.Resampling.BICUBIC
            channels.append(Image.fromarray(plane, "L").resize(size, method, box=box))
        return Image.merge("YCbCr", channels).convert("RGB")


def eighth_size(width: int, height: int) -> tuple[int, int]:
    """The size of a JPEG decoded at 1/8 scale (libjpeg rounds up)."""
    return -(-width // 8), -(-height // 8)


def decode_dc(data: bytes) -> DcImage | None:
    """The image at 1/8 scale, or ``None`` to use libjpeg-turbo instead."""
    try:
        return decode_dc_strict(data)
    except Unsupported:
        return None
    except IndexError:  # a kernel's bounds check fired: a bug, but libjpeg-turbo still decodes
        _log.warning("jpeg_dc: index out of bounds, falling back to libjpeg-turbo", exc_info=True)
        return None


def decode_dc_strict(data: bytes) -> DcImage | None:
    """:func:`decode_dc` without the safety net: raises :class:`Unsupported` (or returns
    ``None``) for whatever it leaves to libjpeg-turbo; any other exception is a bug. For the
    fuzz harness (benchmarks/fuzz_jpeg.py) and tests."""
    try:
        hdr = parse(data)
    except struct.error as exc:
        raise Unsupported("truncated header") from exc
    return _decode(hdr, data)


def thumbnail_from_dc(data: bytes, size: tuple[int, int]) -> Image.Image | None:
    """The image resampled to ``size`` (at most its 1/8-scale size) from its 1/8 scale;
    ``None`` to use libjpeg-turbo instead."""
    image = decode_dc(data)
    return None if image is None else image.resize(size)


@lru_cache(maxsize=64)
def _tables(counts: bytes, values: bytes, ac: bool) -> tuple[NDArray[np.integer], I64]:
    """``(lookahead table, slow-path row)`` for one Huffman table (cached: most files share
    a few tables)."""
    padded = np.zeros(256, dtype=np.int64)
    padded[: len(values)] = np.frombuffer(values, dtype=np.uint8)
    code_counts = np.frombuffer(counts, dtype=np.uint8).astype(np.int64)
    maxcode, valptr, vals = t.canonical(code_counts, padded)
    real = vals[: len(values)].copy()
    lut = t.ac_table(maxcode, valptr, real) if ac else t.dc_table(maxcode, valptr, real)
    return lut, np.concatenate([maxcode, valptr, vals])


def _scale(comp: Component, hmax: int, vmax: int) -> int:
    """libjpeg-turbo's IDCT size for a component at 1/8 scale (jdmaster.c): doubled while the
    component stays at or under luma's resolution both ways; 4:2:0 chroma gets 2x2."""
    scale = 1
    while hmax % (comp.h * scale * 2) == 0 and vmax % (comp.v * scale * 2) == 0:
        scale *= 2
    if scale > 2:
        raise Unsupported("4x4 reduced IDCT")
    return scale


def _decode(hdr: Header, data: bytes) -> DcImage | None:
    comps = hdr.components
    if len(comps) == 3 and (hdr.adobe_transform == 0 or [c.ident for c in comps] == [82, 71, 66]):
        raise Unsupported("RGB components")
    hmax, vmax = max(c.h for c in comps), max(c.v for c in comps)
    if len(comps) == 1:  # non-interleaved: one block per MCU, over the component's own grid
        comps[0].h = comps[0].v = hmax = vmax = 1
    scales = [_scale(c, hmax, vmax) for c in comps]
    mcus_x = -(-hdr.width // (8 * hmax))
    mcus_y = -(-hdr.height // (8 * vmax))
    widths = [mcus_x * c.h * s for c, s in zip(comps, scales, strict=True)]
    heights = [mcus_y * c.v * s for c, s in zip(comps, scales, strict=True)]
    offsets = np.cumsum([0] + [w * h for w, h in zip(widths, heights, strict=True)])
    layout = [(i, dx, dy) for i, c in enumerate(comps) for dy in range(c.v) for dx in range(c.h)]
    if len(layout) > k.MAX_BLOCKS:
        raise Unsupported("too many blocks per MCU")
    keys: list[tuple[int, int]] = []
    for c in comps:
        keys += [key for key in ((0, c.dc_table), (1, c.ac_table)) if key not in keys]
    if (
        not set(keys) <= hdr.huffman.keys()
        or not {c.quant_table for c in comps} <= hdr.quant.keys()
    ):
        raise Unsupported("a table the scan uses is not defined")
    tables = {key: _tables(*hdr.huffman[key], ac=key[0] == 1) for key in keys}
    dc_keys = [key for key in keys if key[0] == 0]
    ac_keys = [key for key in keys if key[0] == 1]
    comp_rows = [  # the columns k.H .. k.QUANT
        (c.h, c.v, w, off, dc_keys.index((0, c.dc_table)), ac_keys.index((1, c.ac_table)), s, i)
        for i, (c, w, off, s) in enumerate(zip(comps, widths, offsets[:-1], scales, strict=True))
    ]
    src = np.frombuffer(data, dtype=np.uint8)
    buf = np.zeros(len(data) - hdr.scan_start + k.PADDING, dtype=np.uint8)
    total_mcus = mcus_x * mcus_y
    interval = hdr.restart_interval or total_mcus
    expected = -(-total_mcus // interval)
    segments = np.zeros(min(expected + 1, _MAX_SEGMENTS), dtype=np.int64)
    length, nseg = k.unstuff(src, hdr.scan_start, buf, segments)
    if nseg < expected:
        return None
    out = np.zeros(int(offsets[-1]), dtype=np.uint8)
    args = (
        mcus_x,
        np.array(layout, dtype=np.int64),
        np.array(comp_rows, dtype=np.int64),
        np.array([hdr.quant[c.quant_table] for c in comps], dtype=np.int64),
        np.stack([tables[key][0] for key in dc_keys]),
        np.stack([tables[key][1] for key in dc_keys]),
        np.concatenate([tables[key][0] for key in ac_keys]),
        np.stack([tables[key][1] for key in ac_keys]),
        out,
    )
    for s in range(expected):
        first = s * interval
        end = int(segments[s + 1]) if s + 1 < nseg else length
        count = min(interval, total_mcus - first)
        code = k.decode_reduced(buf, int(segments[s]), end, first, count, *args)
        if code == k.LAYOUT:
            raise IndexError("decode_reduced: arguments break its layout invariants")
        if code < 0:
            return None
    planes = [
        out[offsets[i] : offsets[i + 1]].reshape(heights[i], widths[i]) for i in range(len(comps))
    ]
    sampling = [(c.h * s, c.v * s) for c, s in zip(comps, scales, strict=True)]
    return DcImage(hdr.width, hdr.height, planes, sampling)
