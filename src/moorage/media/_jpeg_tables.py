"""Huffman decoding tables for :mod:`moorage.media._jpeg_kernels` (built by numba, per table).

Entries of the AC table, over ``AC_BITS`` bits of lookahead, three rows:
- ``MULTI``: every symbol whose code completes within the window (the last one's value bits
  may run past it), up to and including an EOB: bits used (6 bits, value bits included) |
  coefficients advanced << 6 (7 bits; an EOB counts 1, no complete code 127) | EOB << 13.
- ``SINGLE``: the same for the first symbol only.
- ``SYMBOL``: the first symbol and its value, for blocks whose coefficients are needed.
A SINGLE or SYMBOL entry of 0 means no code completes within the window: the slow path
decodes it bit by bit.
"""

from __future__ import annotations

import numpy as np

from moorage.media._numba import njit

# Measured: a 13-bit window holds ~2 symbols and a table row of them is 32 KiB (int32); the
# DC table (2**10) folds in the value bits.
AC_BITS = 13
DC_BITS = 10

MULTI, SINGLE, SYMBOL = 0, 1, 2
ADV_SHIFT = 6
EOB_FLAG = 1 << 13
DC_FULL = 1 << 7
VALUE_FULL = 1 << 7

# jpeg_natural_order: zigzag position -> row * 8 + column.
NATURAL_ORDER = np.array(
    [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
     20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58,
     59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63],
    dtype=np.int64,
)  # fmt: skip
# Zigzag positions libjpeg's 2x2 reduced IDCT reads: rows and columns 0, 1, 3, 5 and 7.
REDUCED_2X2 = np.array(
    [(n // 8) in (0, 1, 3, 5, 7) and (n % 8) in (0, 1, 3, 5, 7) for n in NATURAL_ORDER],
    dtype=np.bool_,
)


@njit()
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


@njit()
def decode_one(
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


@njit(inline="always")
def extend(raw: int, size: int) -> int:
    """JPEG's EXTEND: ``size`` value bits to a signed number (F.2.2.1)."""
    if size == 0:
        return 0
    return raw if raw >= (1 << (size - 1)) else raw - (1 << size) + 1


@njit()
def dc_table(maxcode: np.ndarray, valptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Lookahead table, 0 for long or invalid codes. Entry: ``diff << 16 | size << 8 | length``
    where, when the value bits fit in the window too, ``length`` covers them (``DC_FULL`` set)
    and ``diff`` is the decoded difference."""
    table = np.zeros(1 << DC_BITS, dtype=np.int32)
    for idx in range(1 << DC_BITS):
        length, sym = decode_one(idx, DC_BITS, maxcode, valptr, values)
        if length <= 0 or sym > 15:
            continue
        if length + sym <= DC_BITS:
            raw = (idx >> (DC_BITS - length - sym)) & ((1 << sym) - 1)
            diff = extend(raw, sym)
            table[idx] = (diff << 16) | (sym << 8) | DC_FULL | (length + sym)
        else:
            table[idx] = (sym << 8) | length
    return table


@njit()
def ac_table(maxcode: np.ndarray, valptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The skip rows described in the module docstring, as one int32 array of three rows."""
    size = 1 << AC_BITS
    table = np.zeros((3, size), dtype=np.int32)
    for idx in range(size):
        pos = 0
        adv = 0
        eob = 0
        while pos < AC_BITS:
            rest = AC_BITS - pos
            length, sym = decode_one(idx & ((1 << rest) - 1), rest, maxcode, valptr, values)
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
            entry = pos | (adv << ADV_SHIFT) | (eob * EOB_FLAG)
            if table[SINGLE, idx] == 0:
                table[SINGLE, idx] = entry
                table[SYMBOL, idx] = _symbol_entry(idx, length, sym)
            # MULTI counts an EOB as one more step, so that one test, k + advance > 63, tells
            # the kernel the entry runs past the block (an EOB must come at 62 or before).
            table[MULTI, idx] = entry + (eob << ADV_SHIFT)
            if eob or adv >= 63:
                break
        if table[MULTI, idx] == 0:
            table[MULTI, idx] = 127 << ADV_SHIFT  # no code: always the slow path
    return table


@njit(inline="always")
def _symbol_entry(idx: int, length: int, sym: int) -> int:
    """``value << 16 | symbol << 8 | FULL | bits``: when the value bits fit in the window too,
    ``bits`` covers them and ``value`` is decoded (``FULL``); otherwise ``bits`` is the code's."""
    size = sym & 15
    if length + size > AC_BITS:
        return (sym << 8) | length
    raw = (idx >> (AC_BITS - length - size)) & ((1 << size) - 1)
    return (extend(raw, size) << 16) | (sym << 8) | VALUE_FULL | (length + size)
