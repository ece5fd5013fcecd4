"""Hostile JPEGs for the reduced decoder: what the fuzzing found (benchmarks/fuzz_jpeg.py, its
inputs kept in tests/media/data/jpeg-fuzz/) and the header shapes it probes, built here.

The rule is the harness's: :func:`decode_dc_strict` falls back (``Unsupported`` or ``None``) or
gives planes covering the image, and :func:`decode_dc` never raises.
"""

from __future__ import annotations

import io
import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import simplejpeg  # type: ignore[import-untyped]
from PIL import Image

from moorage.media import _jpeg_kernels as k
from moorage.media import jpeg_dc
from moorage.media.jpeg_dc import Unsupported, decode_dc, decode_dc_strict

from .test_images import photo

FOUND = sorted((Path(__file__).parent / "data" / "jpeg-fuzz").glob("*.jpg"))

Segment = tuple[int, bytes]


def holds(data: bytes) -> bool:
    """True when the decoder took the file (with planes that cover it), False when it fell back;
    anything else raises."""
    decode_dc(data)  # must not raise
    try:
        image = decode_dc_strict(data)
    except Unsupported:
        return False
    if image is None:
        return False
    hmax = max(s[0] for s in image.sampling)
    vmax = max(s[1] for s in image.sampling)
    for plane, (h, v) in zip(image.planes, image.sampling, strict=True):
        assert plane.shape[0] >= -(-image.height * v // (8 * vmax))
        assert plane.shape[1] >= -(-image.width * h // (8 * hmax))
    return True


@pytest.mark.parametrize("path", FOUND, ids=lambda p: p.name)
def test_fuzz_findings_decode_or_fall_back_quickly(path: Path) -> None:
    # empty-sos.jpg raised IndexError in the header parser; timeout-grey-16x16.jpg was the
    # first input of a compiled run to reach the kernels, timed out while numba compiled them.
    holds(path.read_bytes())  # compiles, outside the timing
    start = time.perf_counter()
    holds(path.read_bytes())
    assert time.perf_counter() - start < 1.0


def segments(data: bytes) -> tuple[list[Segment], bytes]:
    """The marker segments up to and including SOS, and the entropy-coded rest."""
    out: list[Segment] = []
    pos = 2
    while True:
        marker = data[pos + 1]
        (length,) = struct.unpack_from(">H", data, pos + 2)
        out.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == 0xDA:
            return out, data[pos:]


def build(segs: list[Segment], scan: bytes) -> bytes:
    parts = [b"\xff\xd8"]
    parts += [bytes([0xFF, m]) + struct.pack(">H", len(body) + 2) + body for m, body in segs]
    return b"".join(parts) + scan


def edit(change: Callable[[list[Segment]], list[Segment]], **params: object) -> bytes:
    buf = io.BytesIO()
    photo(64, 48, seed=5).save(buf, "JPEG", quality=80, **params)
    segs, scan = segments(buf.getvalue())
    return build(change(segs), scan)


def replace(
    marker: int, body: Callable[[bytes], bytes]
) -> Callable[[list[Segment]], list[Segment]]:
    return lambda segs: [(m, body(b) if m == marker else b) for m, b in segs]


def sof_size(width: int, height: int) -> Callable[[bytes], bytes]:
    return lambda body: body[:1] + struct.pack(">HH", height, width) + body[5:]


HOSTILE = {
    "empty SOS": replace(0xDA, lambda b: b""),
    "SOS before SOF": lambda segs: [s for s in segs if s[0] != 0xC0],
    "second SOF": lambda segs: [s for s in segs if s[0] == 0xC0] + segs,
    "SOS names an undefined Huffman table": replace(0xDA, lambda b: b[:2] + b"\x33" + b[3:]),
    "SOF names an undefined quantisation table": replace(0xC0, lambda b: b[:8] + b"\x03" + b[9:]),
    "SOS names an unknown component": replace(0xDA, lambda b: b[:1] + b"\x09" + b[2:]),
    "DRI of one byte": lambda segs: [(0xDD, b"\x01"), *segs],
    "restart every MCU, no markers": lambda segs: [(0xDD, b"\x00\x01"), *segs],
    "65535x65535 over a 64x48 scan": replace(0xC0, sof_size(65535, 65535)),
    "width 0": replace(0xC0, sof_size(0, 48)),
    "sampling 4x4 luma": replace(0xC0, lambda b: b[:7] + b"\x44" + b[8:]),
    "sampling 0x0": replace(0xC0, lambda b: b[:7] + b"\x00" + b[8:]),
    "DHT over-subscribed": replace(0xC4, lambda b: b[:1] + b"\xff" * 16 + b[17:]),
    "DHT counts past its values": replace(0xC4, lambda b: b[:1] + b"\x00" * 15 + b"\xff"),
    "DQT of 16-bit steps cut short": replace(0xDB, lambda b: b"\x10" + b[1:]),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_headers_fall_back_quickly(name: str) -> None:
    assert holds(edit(lambda segs: segs))  # the file untouched decodes (and the JIT is warm)
    data = edit(HOSTILE[name])
    start = time.perf_counter()
    assert not holds(data)
    assert time.perf_counter() - start < 5.0


def test_a_cut_anywhere_falls_back_or_decodes() -> None:
    buf = io.BytesIO()
    photo(64, 48, seed=2).save(buf, "JPEG", quality=80, restart_marker_blocks=2)
    data = buf.getvalue()
    assert holds(data)
    for cut in range(0, len(data), 7):
        holds(data[:cut])


def test_layout_invariants_are_checked_on_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # decode_reduced runs without bounds checks: a buffer shorter than its padding must be
    # refused on entry, and the decoder then falls back like on any other failure.
    buf = io.BytesIO()
    Image.fromarray(np.full((64, 64), 90, dtype=np.uint8)).save(buf, "JPEG")
    data = buf.getvalue()
    assert decode_dc(data) is not None
    monkeypatch.setattr(jpeg_dc.k, "PADDING", 0)
    with pytest.raises(IndexError, match="layout"):
        decode_dc_strict(data)
    assert decode_dc(data) is None
    assert k.LAYOUT < 0


def drifting_dc(width: int, height: int, diff: int) -> bytes:
    """A greyscale baseline JPEG whose every block adds ``diff`` (11 bits) to the DC predictor,
    with quantisation steps of 255: the DC runs past 16 bits and past libjpeg's sample range,
    where it wraps (its predictor at 32 bits, its coefficient at 16, its 1x1 IDCT's range
    limit at 10). A hostile file, but one that decodes cleanly."""
    bits = "".join(
        "0" + format(diff, "011b") + "0" for _ in range(-(-width // 8) * -(-height // 8))
    )
    bits += "1" * (-len(bits) % 8)
    scan = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)).replace(
        b"\xff", b"\xff\x00"
    )
    segs = [
        (0xDB, b"\x00" + bytes([255] * 64)),
        (0xC0, b"\x08" + struct.pack(">HH", height, width) + b"\x01\x01\x11\x00"),
        (0xC4, b"\x00\x01" + bytes(15) + bytes([11])),
        (0xC4, b"\x10\x01" + bytes(15) + b"\x00"),
        (0xDA, b"\x01\x01\x00\x00\x3f\x00"),
    ]
    return build(segs, scan + b"\xff\xd9")


@pytest.mark.parametrize("diff", [2047, 1500, 5])
def test_drifting_dc_wraps_as_libjpeg_turbo_does(diff: int) -> None:
    data = drifting_dc(240, 160, diff)
    image = decode_dc(data)
    assert image is not None
    ref = simplejpeg.decode_jpeg(data, colorspace="GRAY", min_width=30, min_height=20)[..., 0]
    assert np.array_equal(image.plane(0), ref)
    assert len(np.unique(ref)) > 3  # the wrap is exercised, not a flat field
