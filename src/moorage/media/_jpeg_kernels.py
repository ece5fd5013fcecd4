"""Numba kernels for :mod:`moorage.media.jpeg_dc`: Huffman tables, unstuffing, DC-only decoding.

A thumbnail of a large JPEG needs only each 8x8 block's average, its DC coefficient. The AC
coefficients must still be read past (baseline JPEG has no index), but never valued: a table
keyed by the next ``AC_BITS`` bits of the stream says how many bits the complete symbols there
take *including their appended value bits*, how far they advance in the block, and whether the
block ends (EOB). One lookup skips one to three symbols; libjpeg-turbo, which must produce the
coefficients for its IDCT, takes one lookup plus a value extraction per symbol.

Return codes are negative on corrupt data; the caller then falls back to libjpeg-turbo, which
has the final word on damaged files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

# Compiled kernels are cached next to this file; an installation that cannot write there
# (a read-only image, another user's site-packages) caches them in the temp folder instead,
# (numba refuses ``cache=True`` when it has nowhere to write).
if "NUMBA_CACHE_DIR" not in os.environ and not os.access(Path(__file__).parent, os.W_OK):
    os.environ["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "moorage-numba")

from numba import njit

# Lookahead widths, measured: an AC table (two uint16 rows of 2**13) is 32 KiB, 13-bit
# windows hold ~2 symbols; the DC table (int32, 2**10) folds in the value bits.
AC_BITS = 13
DC_BITS = 10

# Packed table entry: bits consumed (6 bits) | advance << 6 (7 bits) | eob << 13; 0 = no
# complete code within the lookahead (long code: the slow path decodes it).
_ADV_SHIFT = 6
_EOB_FLAG = 1 << 13
_DC_FULL = 1 << 7

CORRUPT = -1
OVERRUN = -2
UNDERRUN = -3
# One MCU (at most 10 blocks of 64 symbols of at most 31 bits) reads less than this past its
# segment before the overrun check catches it: the unstuffed buffer is padded with it.
PADDING = 8192


@njit(cache=True, nogil=True)
def canonical(counts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(maxcode[18], valptr[17], values)`` for slow decoding (JPEG Annex F.2.2.3)."""
    maxcode = np.full(18, -1, dtype=np.int64)
    valptr = np.zeros(17, dtype=np.int64)
    code = 0
    k = 0
    for length in range(1, 17):
        n = counts[length - 1]
        if n:
            valptr[length] = k - code  # value index = valptr + code
            code += n
            k += n
            maxcode[length] = code - 1
        code <<= 1
    maxcode[17] = 0x7FFFFFFF
    return maxcode, valptr, values


@njit(cache=True, nogil=True)
def _decode_one(
    bits: int, width: int, maxcode: np.ndarray, valptr: np.ndarray, values: np.ndarray
) -> tuple[int, int]:
    """Decode one symbol from the top of ``width`` bits: ``(length, symbol)``; length 0 when
    no code completes within ``width`` bits, -1 when the bits match no code."""
    for length in range(1, 17):
        if length > width:
            return 0, 0
        code = (bits >> (width - length)) & ((1 << length) - 1)
        if code <= maxcode[length]:
            idx = valptr[length] + code
            if idx >= values.shape[0]:
                return -1, 0
            return length, values[idx]
    return -1, 0


@njit(cache=True, nogil=True)
def dc_table(maxcode: np.ndarray, valptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Lookahead table, 0 for long or invalid codes. Entry: ``diff << 16 | size << 8 | length``
    where, when the value bits fit in the window too, ``length`` covers them (bit 7 set) and
    ``diff`` is the decoded difference."""
    table = np.zeros(1 << DC_BITS, dtype=np.int32)
    for idx in range(1 << DC_BITS):
        length, sym = _decode_one(idx, DC_BITS, maxcode, valptr, values)
        if length <= 0 or sym > 15:
            continue
        if length + sym <= DC_BITS:
            raw = (idx >> (DC_BITS - length - sym)) & ((1 << sym) - 1)
            diff = _extend(raw, sym)
            table[idx] = (diff << 16) | (sym << 8) | _DC_FULL | (length + sym)
        else:
            table[idx] = (sym << 8) | length
    return table


@njit(cache=True, nogil=True, inline="always")
def _extend(raw: int, size: int) -> int:
    """JPEG's EXTEND: ``size`` value bits to a signed difference (F.2.2.1)."""
    if size == 0:
        return 0
    return raw if raw >= (1 << (size - 1)) else raw - (1 << size) + 1


@njit(cache=True, nogil=True)
def ac_table(maxcode: np.ndarray, valptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Skip table over ``AC_BITS`` bits of lookahead.

    ``single`` describes the first symbol only; ``multi`` every symbol whose code completes
    within the window (the last one's value bits may run past it), stopping after an EOB.
    """
    size = 1 << AC_BITS
    table = np.zeros((2, size), dtype=np.uint16)
    for idx in range(size):
        pos = 0
        adv = 0
        eob = 0
        first = 0
        while pos < AC_BITS:
            rest = AC_BITS - pos
            length, sym = _decode_one(idx & ((1 << rest) - 1), rest, maxcode, valptr, values)
            if length <= 0:
                break
            run = sym >> 4
            extra = sym & 15
            if sym == 0:
                pos += length
                eob = 1
            elif extra == 0 and run != 15:  # EOBn: progressive only; invalid here
                break
            elif sym == 0xF0:
                pos += length
                adv += 16
            else:
                pos += length + extra
                adv += run + 1
            entry = pos | (adv << _ADV_SHIFT) | (eob * _EOB_FLAG)
            if first == 0:
                first = entry
            table[0, idx] = entry
            if eob or adv >= 63:
                break
        table[1, idx] = first
    return table


@njit(cache=True, nogil=True, inline="always")
def _copy(src: np.ndarray, i: int, dst: np.ndarray, j: int, n: int) -> None:
    """``dst[j:j+n] = src[i:i+n]`` without a slice object per call (unsigned indices: no
    wraparound checks, so the loop vectorizes)."""
    si, dj = np.uint64(i), np.uint64(j)
    for t in range(np.uint64(n)):
        dst[dj + t] = src[si + t]


@njit(cache=True, nogil=True)
def unstuff(
    data: np.ndarray, ffs: np.ndarray, start: int, out: np.ndarray, segments: np.ndarray
) -> tuple[int, int]:
    """Copy the entropy-coded data from ``start`` into ``out`` without stuffed zero bytes.

    ``ffs`` holds the offsets of every 0xFF byte from ``start`` on (found by numpy); the runs
    between them are copied whole. Restart markers start a new segment: their offsets in
    ``out`` go into ``segments`` (``segments[0]`` is 0). Returns ``(out length, segment
    count)``; the count is -1 when ``segments`` is too short.
    """
    n = data.shape[0]
    i = start
    j = 0
    nseg = 1
    segments[0] = 0
    for f in ffs:
        if f < i:  # a fill byte already skipped
            continue
        _copy(data, i, out, j, f - i)
        j += f - i
        if f + 1 >= n:
            return j, nseg
        nb = data[f + 1]
        if nb == 0:
            out[j] = 0xFF
            j += 1
            i = f + 2
        elif 0xD0 <= nb <= 0xD7:
            if nseg >= segments.shape[0]:
                return j, -1
            segments[nseg] = j
            nseg += 1
            i = f + 2
        elif nb == 0xFF:
            i = f + 1
        else:
            return j, nseg
    _copy(data, i, out, j, n - i)
    return j + n - i, nseg


@njit(cache=True, nogil=True, inline="always")
def _refill(buf: np.ndarray, pos: int, acc: np.uint64, nbits: int) -> tuple[int, np.uint64, int]:
    """Branch-free top-up to 56..63 bits (F. Giesen's "variant 4"): OR in the next eight bytes
    shifted under the valid bits, advance by the whole bytes that fit. ``buf`` is padded, and a
    valid stream never consumes the bits read past its end."""
    p = np.uint64(pos)  # unsigned: no negative-index wraparound, so the loads combine
    word = np.uint64(0)
    for i in range(8):
        word = (word << np.uint64(8)) | np.uint64(buf[p + np.uint64(i)])
    acc |= word >> np.uint64(nbits)
    return pos + ((63 - nbits) >> 3), acc, nbits | 56


@njit(cache=True, nogil=True)
def decode_dc(
    buf: np.ndarray,
    seg_start: int,
    seg_end: int,
    first_mcu: int,
    n_mcus: int,
    mcus_x: int,
    blocks: np.ndarray,
    comps: np.ndarray,
    dc_lut: np.ndarray,
    dc_slow: np.ndarray,
    ac_lut: np.ndarray,
    ac_slow: np.ndarray,
    out: np.ndarray,
) -> int:
    """Decode ``n_mcus`` MCUs of one restart segment, writing each block's 1x1 IDCT (the block
    mean, +128, clamped) into ``out``; the segment must be used up exactly.

    ``blocks`` rows are ``(component, dx, dy)`` per block of an MCU; ``comps`` rows are
    ``(h, v, plane width, plane offset, DC quantizer, DC table, AC table)``; ``*_slow`` rows
    are a table's ``maxcode[18] + valptr[17] + values[256]``. Returns 0, or a negative code.
    """
    acc = np.uint64(0)
    nbits = 0
    pos = seg_start
    pred = np.zeros(comps.shape[0], dtype=np.int64)
    for m in range(first_mcu, first_mcu + n_mcus):
        mx = m % mcus_x
        my = m // mcus_x
        for b in range(blocks.shape[0]):
            c = blocks[b, 0]
            dct = comps[c, 5]
            act = comps[c, 6] * 2
            pos, acc, nbits = _refill(buf, pos, acc, nbits)
            entry = int(dc_lut[dct, acc >> np.uint64(64 - DC_BITS)])
            if entry & _DC_FULL:
                used = entry & 63
                acc <<= np.uint64(used)
                nbits -= used
                pred[c] += entry >> 16
            else:
                if entry:
                    length = entry & 63
                    size = (entry >> 8) & 0xFF
                else:
                    slow = dc_slow[dct]
                    length, size = _decode_one(
                        int(acc >> np.uint64(48)), 16, slow[:18], slow[18:35], slow[35:]
                    )
                    if length <= 0 or size > 15:
                        return CORRUPT
                acc <<= np.uint64(length)
                nbits -= length
                if size:
                    raw = int(acc >> np.uint64(64 - size))
                    acc <<= np.uint64(size)
                    nbits -= size
                    pred[c] += _extend(raw, size)
            value = ((pred[c] * comps[c, 4] + 4) >> 3) + 128
            value = 0 if value < 0 else (255 if value > 255 else value)
            row = my * comps[c, 1] + blocks[b, 2]
            col = mx * comps[c, 0] + blocks[b, 1]
            out[comps[c, 3] + row * comps[c, 2] + col] = value
            # AC: skip up to 63 coefficients, several symbols per lookup.
            k = 0
            while k < 63:
                pos, acc, nbits = _refill(buf, pos, acc, nbits)
                idx = acc >> np.uint64(64 - AC_BITS)
                entry = int(ac_lut[act, idx])
                adv = (entry >> _ADV_SHIFT) & 127
                if entry == 0 or k + adv > 63 or (k + adv == 63 and entry & _EOB_FLAG):
                    entry = int(ac_lut[act + 1, idx])
                    if entry == 0:  # a code longer than the lookahead
                        slow = ac_slow[act // 2]
                        length, sym = _decode_one(
                            int(acc >> np.uint64(48)), 16, slow[:18], slow[18:35], slow[35:]
                        )
                        if length <= 0 or ((sym & 15) == 0 and sym != 0 and sym != 0xF0):
                            return CORRUPT
                        if sym == 0:
                            entry = length | _EOB_FLAG
                        elif sym == 0xF0:
                            entry = length | (16 << _ADV_SHIFT)
                        else:
                            entry = (length + (sym & 15)) | (((sym >> 4) + 1) << _ADV_SHIFT)
                    adv = (entry >> _ADV_SHIFT) & 127
                used = entry & 63
                acc <<= np.uint64(used)
                nbits -= used
                if entry & _EOB_FLAG:
                    break
                k += adv
        if pos * 8 - nbits > seg_end * 8:
            return OVERRUN
    # A clean segment ends in its last byte (padded with 1-bits); more left over means the
    # stream is not what its header says.
    if seg_end * 8 - (pos * 8 - nbits) >= 16:
        return UNDERRUN
    return 0
