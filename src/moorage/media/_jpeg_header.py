"""JPEG headers, as far as :mod:`moorage.media.jpeg_dc` needs them."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from moorage.media._jpeg_tables import NATURAL_ORDER

__all__ = ["Component", "Header", "Unsupported", "parse"]

_SOF_SUPPORTED = {0xC0, 0xC1}
_SOF_OTHER = {0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass
class Component:
    ident: int
    h: int
    v: int
    quant_table: int
    dc_table: int = 0
    ac_table: int = 0


@dataclass
class Header:
    width: int = 0
    height: int = 0
    components: list[Component] = field(default_factory=list)
    quant: dict[int, list[int]] = field(default_factory=dict)  # table -> 64 steps, natural order
    huffman: dict[tuple[int, int], tuple[bytes, bytes]] = field(default_factory=dict)
    restart_interval: int = 0
    adobe_transform: int | None = None
    scan_start: int = 0


class Unsupported(Exception):
    """Not for this decoder: the caller falls back to libjpeg-turbo."""


def parse(data: bytes) -> Header:
    if data[:2] != b"\xff\xd8":
        raise Unsupported("no SOI")
    hdr = Header()
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            raise Unsupported("marker expected")
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
            raise Unsupported("truncated segment")
        if marker in _SOF_SUPPORTED:
            _parse_sof(hdr, body)
        elif marker in _SOF_OTHER:
            raise Unsupported("not baseline Huffman")
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
    raise Unsupported("no scan")


def _parse_sof(hdr: Header, body: bytes) -> None:
    precision, height, width, count = struct.unpack_from(">BHHB", body)
    if hdr.components:
        raise Unsupported("a second SOF")
    if precision != 8 or height == 0 or width == 0 or count not in (1, 3):
        raise Unsupported("precision, size or component count")
    if len(body) < 6 + 3 * count:
        raise Unsupported("short SOF")
    hdr.width, hdr.height = width, height
    for i in range(count):
        ident, hv, tq = body[6 + 3 * i : 9 + 3 * i]
        h, v = hv >> 4, hv & 15
        if not (1 <= h <= 4 and 1 <= v <= 4):
            raise Unsupported("sampling factors")
        hdr.components.append(Component(ident, h, v, tq))


def _parse_dht(hdr: Header, body: bytes) -> None:
    pos = 0
    while pos + 17 <= len(body):
        cls_id = body[pos]
        counts = body[pos + 1 : pos + 17]
        total = sum(counts)
        values = body[pos + 17 : pos + 17 + total]
        if len(values) != total or total > 256:
            raise Unsupported("bad DHT")
        hdr.huffman[(cls_id >> 4, cls_id & 15)] = (counts, values)
        pos += 17 + total


def _parse_dqt(hdr: Header, body: bytes) -> None:
    pos = 0
    while pos < len(body):
        pq, tq = body[pos] >> 4, body[pos] & 15
        size = 128 if pq else 64
        if pos + 1 + size > len(body):
            raise Unsupported("bad DQT")
        zigzag = struct.unpack_from(">64H" if pq else "64B", body, pos + 1)
        natural = [0] * 64
        for z, step in enumerate(zigzag):
            natural[NATURAL_ORDER[z]] = step
        hdr.quant[tq] = natural
        pos += 1 + size


def _parse_sos(hdr: Header, body: bytes) -> None:
    count = body[0] if body else 0
    if not hdr.components or count != len(hdr.components) or len(body) < 4 + 2 * count:
        raise Unsupported("not one interleaved scan")
    by_id = {c.ident: c for c in hdr.components}
    for i in range(count):
        ident, tables = body[1 + 2 * i], body[2 + 2 * i]
        comp = by_id.get(ident)
        if comp is None:
            raise Unsupported("unknown component")
        comp.dc_table, comp.ac_table = tables >> 4, tables & 15
    ss, se, a = body[1 + 2 * count : 4 + 2 * count]
    if (ss, se, a) != (0, 63, 0):
        raise Unsupported("not a sequential scan")
