"""Numba kernels for :mod:`moorage.media.jpeg_dc`: unstuffing and reduced-size decoding.

A thumbnail of a large JPEG needs the image at 1/8 scale, which for a full-resolution
component is each 8x8 block's mean: its DC coefficient. The AC coefficients must still be
read past (baseline JPEG has no index), but never valued: the ``MULTI`` table says how many
bits the complete symbols in the next ``AC_BITS`` bits take *including their value bits*, how
far they advance in the block and whether it ends, so one lookup skips ~2 symbols.
libjpeg-turbo, which produces every coefficient for its IDCT, pays a lookup and a value
extraction per symbol.

Chroma subsampled 2x2 (4:2:0) is where libjpeg-turbo, at 1/8 scale, runs a 2x2 IDCT per
block instead (jidctred.c's reduced IDCT, from the block's coefficients in rows and columns
0, 1, 3, 5 and 7), so that chroma lands on the luma grid without upsampling. Those blocks,
~1/6 of a 4:2:0 file and the sparser ones, are decoded with their values and given the same
integer IDCT, so every plane matches libjpeg-turbo's.

Negative return codes flag streams that do not decode cleanly; the caller then falls back to
libjpeg-turbo, which has the final word on damaged files.
"""

from __future__ import annotations

import numpy as np

from moorage.media._jpeg_tables import (
    AC_BITS,
    ADV_SHIFT,
    DC_BITS,
    DC_FULL,
    EOB_FLAG,
    MULTI,
    NATURAL_ORDER,
    REDUCED_2X2,
    SINGLE,
    SYMBOL,
    VALUE_FULL,
    decode_one,
    extend,
)
from moorage.media._numba import njit

CORRUPT = -1
OVERRUN = -2
UNDERRUN = -3
LAYOUT = -4  # arguments that break decode_reduced's invariants: a bug in the caller
MAX_BLOCKS = 10  # blocks in one MCU (JPEG's limit)
# One MCU (at most 10 blocks of 64 symbols of at most 31 bits, 640 refills of at most 7 bytes)
# reads less than this past its segment before the overrun check catches it: the unstuffed
# buffer is padded with it.
PADDING = 8192

# Columns of ``comps`` rows.
H, V, WIDTH, OFFSET, DC_TABLE, AC_TABLE, SCALE, QUANT = range(8)


_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)


@njit()
def unstuff(data: np.ndarray, start: int, out: np.ndarray, segments: np.ndarray) -> tuple[int, int]:
    """Copy the entropy-coded data from ``start`` into ``out`` without stuffed zero bytes.

    Eight bytes at a time while they hold no 0xFF (SWAR test), byte by byte around one.
    Restart markers start a new segment: their offsets in ``out`` go into ``segments``
    (``segments[0]`` is 0). Returns ``(out length, segment count)``; the count is -1 when
    ``segments`` is too short. Stops at the first other marker.
    """
    n = data.shape[0]
    i = start
    j = 0
    nseg = 1
    segments[0] = 0
    while i < n:
        if i + 8 <= n:
            p, q = np.uint64(i), np.uint64(j)  # unsigned: no wraparound checks
            word = np.uint64(0)
            for t in range(8):
                word = (word << np.uint64(8)) | np.uint64(data[p + np.uint64(t)])
            inv = ~word
            if ((inv - _ONES) & ~inv & _HIGHS) == 0:  # no 0xFF byte among the eight
                for t in range(8):
                    out[q + np.uint64(t)] = data[p + np.uint64(t)]
                i += 8
                j += 8
                continue
        b = data[i]
        if b != 0xFF:
            out[j] = b
            i += 1
            j += 1
            continue
        if i + 1 >= n:
            break
        nb = data[i + 1]
        if nb == 0:  # a stuffed 0xFF
            out[j] = 0xFF
            j += 1
            i += 2
        elif 0xD0 <= nb <= 0xD7:
            if nseg >= segments.shape[0]:
                return j, -1
            segments[nseg] = j
            nseg += 1
            i += 2
        elif nb == 0xFF:  # fill byte
            i += 1
        else:
            break
    return j, nseg


@njit(inline="always")
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


@njit(inline="always")
def _clamp(value: int) -> int:
    return 0 if value < 0 else (255 if value > 255 else value)


@njit(inline="always")
def _dc(pred: int) -> int:
    """The DC coefficient libjpeg-turbo stores: its predictor wraps at 32 bits and the
    coefficient is a 16-bit ``JCOEF`` (jdhuff.c), which only a hostile stream ever reaches."""
    return ((pred + 32768) & 0xFFFF) - 32768


@njit(inline="always")
def _range_limit(value: int) -> int:
    """libjpeg's post-IDCT range limit of its 1x1 IDCT (jidctred.c, ``range_limit[x &
    RANGE_MASK]``): a clamp for ``value`` in -384..383, a wrap beyond, which only a hostile
    stream reaches. ``value`` is centred on 0."""
    i = value & 1023
    if i < 128:
        return i + 128
    if i < 512:
        return 255
    return 0 if i < 896 else i - 896


@njit(inline="always")
def _odd(z1: int, z3: int, z5: int, z7: int) -> int:
    """The 2-point IDCT's odd part: sqrt(2) * (c1+c3+c5+c7, -c1+c3-c5-c7, ...) in 13-bit
    fixed point, as libjpeg's reduced IDCT computes it."""
    return 29692 * z1 - 10426 * z3 + 6967 * z5 - 5906 * z7


@njit()
def _idct_2x2(
    coef: np.ndarray, quant: np.ndarray, ws: np.ndarray, out: np.ndarray, at: int, stride: int
) -> None:
    """libjpeg's 2x2 reduced IDCT of one block (dequantized ``coef`` in natural order): two
    passes, columns then rows, 13-bit constants, the same rounding; ``ws`` is 2x8 scratch."""
    for j in (0, 1, 3, 5, 7):
        even = (coef[j] * quant[j]) << 15
        odd = _odd(
            coef[8 + j] * quant[8 + j],
            coef[24 + j] * quant[24 + j],
            coef[40 + j] * quant[40 + j],
            coef[56 + j] * quant[56 + j],
        )
        ws[0, j] = (even + odd + (1 << 12)) >> 13
        ws[1, j] = (even - odd + (1 << 12)) >> 13
    for i in range(2):
        even = ws[i, 0] << 15
        odd = _odd(ws[i, 1], ws[i, 3], ws[i, 5], ws[i, 7])
        out[at + i * stride] = _clamp(((even + odd + (1 << 19)) >> 20) + 128)
        out[at + i * stride + 1] = _clamp(((even - odd + (1 << 19)) >> 20) + 128)


@njit()
def layout_ok(
    buf: np.ndarray,
    seg_start: int,
    seg_end: int,
    first_mcu: int,
    n_mcus: int,
    mcus_x: int,
    blocks: np.ndarray,
    comps: np.ndarray,
    quant: np.ndarray,
    dc_lut: np.ndarray,
    dc_slow: np.ndarray,
    ac_lut: np.ndarray,
    ac_slow: np.ndarray,
    out: np.ndarray,
) -> bool:
    """Whether :func:`decode_reduced`'s arguments hold the invariants its unchecked indexing
    rests on: every table, component, block and output row it can reach is inside its array,
    and one MCU cannot read past the buffer's padding before the overrun check stops it."""
    if not (0 <= seg_start <= seg_end and seg_end + PADDING <= buf.shape[0]):
        return False
    if first_mcu < 0 or n_mcus < 1 or mcus_x < 1 or not 1 <= blocks.shape[0] <= MAX_BLOCKS:
        return False
    slow = 18 + 17 + 256
    if (
        blocks.shape[1] != 3
        or comps.shape[1] != 8
        or quant.shape[1] != 64
        or dc_lut.shape[1] != 1 << DC_BITS
        or ac_lut.shape[1] != 1 << AC_BITS
        or dc_slow.shape[1] != slow
        or ac_slow.shape[1] != slow
        or dc_lut.shape[0] != dc_slow.shape[0]
        or ac_lut.shape[0] != 3 * ac_slow.shape[0]
    ):
        return False
    for b in range(blocks.shape[0]):
        c = blocks[b, 0]
        if not (0 <= c < comps.shape[0] and 0 <= blocks[b, 1] < comps[c, H]):
            return False
        if not 0 <= blocks[b, 2] < comps[c, V]:
            return False
    rows = (first_mcu + n_mcus - 1) // mcus_x + 1  # MCU rows reached
    for c in range(comps.shape[0]):
        h, v, scale = comps[c, H], comps[c, V], comps[c, SCALE]
        if h < 1 or v < 1 or scale not in (1, 2) or comps[c, WIDTH] < mcus_x * h * scale:
            return False
        if not (
            0 <= comps[c, DC_TABLE] < dc_lut.shape[0] and 0 <= comps[c, QUANT] < quant.shape[0]
        ):
            return False
        if not 0 <= comps[c, AC_TABLE] < ac_slow.shape[0]:
            return False
        if (
            comps[c, OFFSET] < 0
            or comps[c, OFFSET] + rows * v * scale * comps[c, WIDTH] > out.shape[0]
        ):
            return False
    return True


@njit(boundscheck=False)
def decode_reduced(
    buf: np.ndarray,
    seg_start: int,
    seg_end: int,
    first_mcu: int,
    n_mcus: int,
    mcus_x: int,
    blocks: np.ndarray,
    comps: np.ndarray,
    quant: np.ndarray,
    dc_lut: np.ndarray,
    dc_slow: np.ndarray,
    ac_lut: np.ndarray,
    ac_slow: np.ndarray,
    out: np.ndarray,
) -> int:
    """Decode ``n_mcus`` MCUs of one restart segment into ``out``: per block its 1x1 IDCT (the
    mean, +128, clamped) or, for components with ``SCALE`` 2, its 2x2 one. The segment must
    be used up exactly.

    ``blocks`` rows are ``(component, dx, dy)`` per block of an MCU; ``comps`` rows hold the
    columns named above; ``quant`` rows are quantization tables in natural order; ``*_slow``
    rows are a table's ``maxcode[18] + valptr[17] + values[256]``; ``ac_lut`` stacks each AC
    table's three rows. Returns 0, or a negative code.

    Compiled without bounds checks (they cost ~18% here): :func:`layout_ok` checks on entry
    what every index below rests on. Past that, indices come from the tables' own widths
    (lookups of the top ``DC_BITS``/``AC_BITS`` bits), from ``min(k, 63)``, and from ``pos``,
    which the per-MCU overrun check keeps within ``PADDING`` of ``seg_end``: an MCU makes at
    most ``MAX_BLOCKS * 64`` refills of at most 7 bytes.
    """
    if not layout_ok(
        buf, seg_start, seg_end, first_mcu, n_mcus, mcus_x, blocks, comps, quant,
        dc_lut, dc_slow, ac_lut, ac_slow, out,
    ):  # fmt: skip
        return LAYOUT
    acc = np.uint64(0)
    nbits = 0
    pos = seg_start
    pred = np.zeros(comps.shape[0], dtype=np.int64)
    coef = np.zeros(64, dtype=np.int64)
    ws = np.zeros((2, 8), dtype=np.int64)
    touched = np.zeros(64, dtype=np.int64)
    for m in range(first_mcu, first_mcu + n_mcus):
        mx = m % mcus_x
        my = m // mcus_x
        for b in range(blocks.shape[0]):
            c = blocks[b, 0]
            dct = comps[c, DC_TABLE]
            act = comps[c, AC_TABLE] * 3
            pos, acc, nbits = _refill(buf, pos, acc, nbits)
            entry = int(dc_lut[dct, acc >> np.uint64(64 - DC_BITS)])
            if entry & DC_FULL:
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
                    length, size = decode_one(
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
                    pred[c] += extend(raw, size)
            scale = comps[c, SCALE]
            row = (my * comps[c, V] + blocks[b, 2]) * scale
            col = (mx * comps[c, H] + blocks[b, 1]) * scale
            at = comps[c, OFFSET] + row * comps[c, WIDTH] + col
            if scale == 1:
                q0 = quant[comps[c, QUANT], 0]
                out[at] = _range_limit((_dc(pred[c]) * q0 + 4) >> 3)
                k = 0
                while k < 63:
                    pos, acc, nbits = _refill(buf, pos, acc, nbits)
                    idx = acc >> np.uint64(64 - AC_BITS)
                    entry = int(ac_lut[act + MULTI, idx])
                    adv = (entry >> ADV_SHIFT) & 127
                    if k + adv > 63:
                        entry = int(ac_lut[act + SINGLE, idx])
                        if entry == 0:  # a code longer than the lookahead
                            slow = ac_slow[act // 3]
                            length, sym = decode_one(
                                int(acc >> np.uint64(48)), 16, slow[:18], slow[18:35], slow[35:]
                            )
                            if length <= 0 or ((sym & 15) == 0 and sym != 0 and sym != 0xF0):
                                return CORRUPT
                            if sym == 0:
                                entry = length | EOB_FLAG
                            elif sym == 0xF0:
                                entry = length | (16 << ADV_SHIFT)
                            else:
                                entry = (length + (sym & 15)) | (((sym >> 4) + 1) << ADV_SHIFT)
                        adv = (entry >> ADV_SHIFT) & 127
                    used = entry & 63
                    acc <<= np.uint64(used)
                    nbits -= used
                    if entry & EOB_FLAG:
                        break
                    k += adv
            else:
                coef[0] = _dc(pred[c])
                nz = 0
                k = 1
                while k < 64:
                    pos, acc, nbits = _refill(buf, pos, acc, nbits)
                    entry = int(ac_lut[act + SYMBOL, acc >> np.uint64(64 - AC_BITS)])
                    if entry & VALUE_FULL:  # code and value in one lookup
                        used = entry & 63
                        acc <<= np.uint64(used)
                        nbits -= used
                        sym = (entry >> 8) & 0xFF
                        if sym & 15:
                            k += sym >> 4
                            z = min(k, 63)  # a run past the block lands on 63, as in libjpeg
                            if REDUCED_2X2[z]:
                                coef[NATURAL_ORDER[z]] = entry >> 16
                                touched[nz] = NATURAL_ORDER[z]
                                nz += 1
                            k += 1
                            continue
                    else:
                        if entry:
                            length = entry & 63
                            sym = (entry >> 8) & 0xFF
                        else:
                            slow = ac_slow[act // 3]
                            length, sym = decode_one(
                                int(acc >> np.uint64(48)), 16, slow[:18], slow[18:35], slow[35:]
                            )
                            if length <= 0:
                                return CORRUPT
                        acc <<= np.uint64(length)
                        nbits -= length
                        size = sym & 15
                        if size:
                            k += sym >> 4
                            raw = int(acc >> np.uint64(64 - size))
                            acc <<= np.uint64(size)
                            nbits -= size
                            z = min(k, 63)
                            if REDUCED_2X2[z]:
                                coef[NATURAL_ORDER[z]] = extend(raw, size)
                                touched[nz] = NATURAL_ORDER[z]
                                nz += 1
                            k += 1
                            continue
                    run = sym >> 4
                    if run == 15:
                        k += 16
                    elif sym == 0:
                        break
                    else:
                        return CORRUPT
                if nz:
                    _idct_2x2(coef, quant[comps[c, QUANT]], ws, out, at, comps[c, WIDTH])
                    for i in range(nz):
                        coef[touched[i]] = 0
                else:  # no AC it reads: the 2x2 IDCT gives the mean four times
                    mean = _clamp(((coef[0] * quant[comps[c, QUANT], 0] + 4) >> 3) + 128)
                    stride = comps[c, WIDTH]
                    out[at] = out[at + 1] = out[at + stride] = out[at + stride + 1] = mean
        if pos * 8 - nbits > seg_end * 8:
            return OVERRUN
    # A clean segment ends in its last byte (padded with 1-bits); more left over means the
    # stream is not what its header says.
    if seg_end * 8 - (pos * 8 - nbits) >= 16:
        return UNDERRUN
    return 0
