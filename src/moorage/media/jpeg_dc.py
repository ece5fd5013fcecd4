"""DC-only JPEG decoding: a 1/8-scale image of a baseline JPEG, for thumbnails.

A 4000x3000 photo's thumbnail (267x200) needs the image at 1/8 scale, which is exactly the
mean of every 8x8 block: its DC coefficient. libjpeg-turbo's 1/8 scaling gives the same pixels
but decodes every AC coefficient's value on the way; :mod:`moorage.media._jpeg_kernels` skips
them with multi-symbol tables, about twice as fast (``benchmarks/thumbnails.py``).

Only what is common and simple takes this path: baseline or extended sequential Huffman JPEG,
8-bit, greyscale or YCbCr, all components in one scan, any sampling factors, restart markers.
Everything else (progressive, arithmetic, 12-bit, CMYK, Adobe RGB), and any stream that does
not decode cleanly, returns ``None``: the caller uses libjpeg-turbo.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from moorage.media import _jpeg_kernels as k

__all__ = ["DcImage", "decode_dc", "eighth_size", "thumbnail_from_dc"]

_SOF_SUPPORTED = {0xC0, 0xC1}
_SOF_OTHER = {0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_MAX_SEGMENTS = 1 << 20

I64 = NDArray[np.int64]
I32 = NDArray[np.int32]


@dataclass
class _Component:
    ident: int
    h: int
    v: int
    quant_table: int
    dc_table: int = 0
    ac_table: int = 0


@dataclass
class _Header:
    width: int = 0
    height: int = 0
    components: list[_Component] = field(default_factory=list)
    quant: dict[int, int] = field(default_factory=dict)  # table -> DC step
    huffman: dict[tuple[int, int], tuple[bytes, bytes]] = field(default_factory=dict)
    restart_interval: int = 0
    adobe_transform: int | None = None
    scan_start: int = 0


class _Unsupported(Exception):
    """Not for this decoder: the caller falls back to libjpeg-turbo."""


def _parse(data: bytes) -> _Header:
    if data[:2] != b"\xff\xd8":
        raise _Unsupported("no SOI")
    hdr = _Header()
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            raise _Unsupported("marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        body = data[pos + 4 : pos + 2 + length]
        if length < 2 or len(body) != length - 2:
            raise _Unsupported("truncated segment")
        if marker in _SOF_SUPPORTED:
            _parse_sof(hdr, body)
        elif marker in _SOF_OTHER:
            raise _Unsupported("not baseline Huffman")
        elif marker == 0xC4:
            _parse_dht(hdr, body)
        elif marker == 0xDB:
            _parse_dqt(hdr, body)
        elif marker == 0xDD:
            (hdr.restart_interval,) = struct.unpack_from(">H", body)
        elif marker == 0xEE and body[:5] == b"Adobe" and len(body) >= 12:
            hdr.adobe_transform = body[11]
        elif marker == 0xDA:
            _parse_sos(hdr, body)
            hdr.scan_start = pos + 2 + length
            return hdr
        pos += 2 + length
    raise _Unsupported("no scan")


def _parse_sof(hdr: _Header, body: bytes) -> None:
    precision, height, width, count = struct.unpack_from(">BHHB", body)
    if precision != 8 or height == 0 or width == 0 or count not in (1, 3):
        raise _Unsupported("precision, size or component count")
    if len(body) < 6 + 3 * count:
        raise _Unsupported("short SOF")
    hdr.width, hdr.height = width, height
    for i in range(count):
        ident, hv, tq = body[6 + 3 * i : 9 + 3 * i]
        h, v = hv >> 4, hv & 15
        if not (1 <= h <= 4 and 1 <= v <= 4):
            raise _Unsupported("sampling factors")
        hdr.components.append(_Component(ident, h, v, tq))


def _parse_dht(hdr: _Header, body: bytes) -> None:
    pos = 0
    while pos + 17 <= len(body):
        cls_id = body[pos]
        counts = body[pos + 1 : pos + 17]
        total = sum(counts)
        values = body[pos + 17 : pos + 17 + total]
        if len(values) != total or total > 256:
            raise _Unsupported("bad DHT")
        hdr.huffman[(cls_id >> 4, cls_id & 15)] = (counts, values)
        pos += 17 + total


def _parse_dqt(hdr: _Header, body: bytes) -> None:
    pos = 0
    while pos < len(body):
        pq, tq = body[pos] >> 4, body[pos] & 15
        size = 128 if pq else 64
        if pos + 1 + size > len(body):
            raise _Unsupported("bad DQT")
        hdr.quant[tq] = struct.unpack_from(">H", body, pos + 1)[0] if pq else body[pos + 1]
        pos += 1 + size


def _parse_sos(hdr: _Header, body: bytes) -> None:
    count = body[0]
    if count != len(hdr.components) or len(body) < 4 + 2 * count:
        raise _Unsupported("not one interleaved scan")
    by_id = {c.ident: c for c in hdr.components}
    for i in range(count):
        ident, tables = body[1 + 2 * i], body[2 + 2 * i]
        comp = by_id.get(ident)
        if comp is None:
            raise _Unsupported("unknown component")
        comp.dc_table, comp.ac_table = tables >> 4, tables & 15
    ss, se, a = body[1 + 2 * count : 4 + 2 * count]
    if (ss, se, a) != (0, 63, 0):
        raise _Unsupported("not a sequential scan")


@lru_cache(maxsize=64)
def _tables(counts: bytes, values: bytes, ac: bool) -> tuple[NDArray[np.integer], I64]:
    """``(lookahead table, slow-path row)`` for one Huffman table (cached: most files share
    a few tables)."""
    padded = np.zeros(256, dtype=np.int64)
    padded[: len(values)] = np.frombuffer(values, dtype=np.uint8)
    code_counts = np.frombuffer(counts, dtype=np.uint8).astype(np.int64)
    maxcode, valptr, vals = k.canonical(code_counts, padded)
    real = vals[: len(values)].copy()
    lut = k.ac_table(maxcode, valptr, real) if ac else k.dc_table(maxcode, valptr, real)
    return lut, np.concatenate([maxcode, valptr, vals])


def eighth_size(width: int, height: int) -> tuple[int, int]:
    """The size of a JPEG decoded at 1/8 scale (libjpeg rounds up)."""
    return -(-width // 8), -(-height // 8)


@dataclass(frozen=True)
class DcImage:
    """A JPEG's block means: one plane per component, padded to whole MCUs."""

    width: int  # the image's own size
    height: int
    planes: list[NDArray[np.uint8]]
    sampling: list[tuple[int, int]]  # (h, v) per component

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
        by ``height * v / (8 * vmax)``: the box below (blocks past it are padding).
        Subsampled chroma is resampled once, from its own grid.
        """
        hmax = max(s[0] for s in self.sampling)
        vmax = max(s[1] for s in self.sampling)
        channels = []
        for (h, v), plane in zip(self.sampling, self.planes, strict=True):
            box = (0.0, 0.0, self.width * h / (8 * hmax), self.height * v / (8 * vmax))
            # Subsampled chroma is the mean of 16x16 pixels where libjpeg's 1/8 scale reads
            # 8x8: the sharper Lanczos filter makes up for it (PSNR within 0.1 dB).
            sharp = (h, v) != (hmax, vmax)
            method = Image.Resampling.LANCZOS if sharp else Image.Resampling.BICUBIC
            channels.append(Image.fromarray(plane, "L").resize(size, method, box=box))
        if len(channels) == 1:
            return channels[0]
        return Image.merge("YCbCr", channels).convert("RGB")


def decode_dc(data: bytes) -> DcImage | None:
    """The block means of a baseline JPEG, or ``None`` to use libjpeg-turbo instead."""
    try:
        hdr = _parse(data)
        planes = _decode(hdr, data)
    except (_Unsupported, struct.error, IndexError, KeyError):
        return None
    if planes is None:
        return None
    sampling = [(c.h, c.v) for c in hdr.components]
    return DcImage(hdr.width, hdr.height, planes, sampling)


def thumbnail_from_dc(data: bytes, size: tuple[int, int]) -> Image.Image | None:
    """The image resampled to ``size`` (at most its 1/8-scale size) from its blocks' means;
    ``None`` to use libjpeg-turbo instead."""
    image = decode_dc(data)
    return None if image is None else image.resize(size)


def _decode(hdr: _Header, data: bytes) -> list[NDArray[np.uint8]] | None:
    comps = hdr.components
    if len(comps) == 3 and (hdr.adobe_transform == 0 or [c.ident for c in comps] == [82, 71, 66]):
        raise _Unsupported("RGB components")
    hmax, vmax = max(c.h for c in comps), max(c.v for c in comps)
    if len(comps) == 1:  # non-interleaved: one block per MCU, over the component's own grid
        comps[0].h = comps[0].v = hmax = vmax = 1
    mcus_x = -(-hdr.width // (8 * hmax))
    mcus_y = -(-hdr.height // (8 * vmax))
    widths = [mcus_x * c.h for c in comps]
    heights = [mcus_y * c.v for c in comps]
    offsets = np.cumsum([0] + [w * h for w, h in zip(widths, heights, strict=True)])
    layout = [(i, dx, dy) for i, c in enumerate(comps) for dy in range(c.v) for dx in range(c.h)]
    if len(layout) > 10:
        raise _Unsupported("too many blocks per MCU")
    blocks = np.array(layout, dtype=np.int64)
    keys: list[tuple[int, int]] = []
    for c in comps:
        keys += [key for key in ((0, c.dc_table), (1, c.ac_table)) if key not in keys]
    tables = {key: _tables(*hdr.huffman[key], ac=key[0] == 1) for key in keys}
    dc_keys = [key for key in keys if key[0] == 0]
    ac_keys = [key for key in keys if key[0] == 1]
    comp_rows = [
        (
            c.h,
            c.v,
            w,
            off,
            hdr.quant[c.quant_table],
            dc_keys.index((0, c.dc_table)),
            ac_keys.index((1, c.ac_table)),
        )
        for c, w, off in zip(comps, widths, offsets[:-1], strict=True)
    ]
    src = np.frombuffer(data, dtype=np.uint8)
    ffs = np.flatnonzero(src[hdr.scan_start :] == 0xFF) + hdr.scan_start
    buf = np.zeros(len(data) - hdr.scan_start + k.PADDING, dtype=np.uint8)
    total_mcus = mcus_x * mcus_y
    interval = hdr.restart_interval or total_mcus
    expected = -(-total_mcus // interval)
    segments = np.zeros(min(expected + 1, _MAX_SEGMENTS), dtype=np.int64)
    length, nseg = k.unstuff(src, ffs, hdr.scan_start, buf, segments)
    if nseg < expected:
        return None
    out = np.zeros(int(offsets[-1]), dtype=np.uint8)
    args = (
        mcus_x,
        blocks,
        np.array(comp_rows, dtype=np.int64),
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
        if k.decode_dc(buf, int(segments[s]), end, first, count, *args) < 0:
            return None
    return [
        out[offsets[i] : offsets[i + 1]].reshape(heights[i], widths[i]) for i in range(len(comps))
    ]
