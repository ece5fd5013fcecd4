"""DC-only decoding against libjpeg-turbo's own 1/8-scale decoding of the same files."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import simplejpeg  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from PIL import Image

from moorage.media import make_thumbnail
from moorage.media.jpeg_dc import decode_dc, eighth_size, thumbnail_from_dc

from .conftest import decode_jpeg
from .test_images import photo


def jpeg(img: Image.Image, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **params)
    return buf.getvalue()


def eighth(data: bytes, colorspace: str) -> NDArray[np.uint8]:
    """libjpeg-turbo's decode at 1/8 scale (DCT scaling), via simplejpeg."""
    img = Image.open(io.BytesIO(data))
    w, h = eighth_size(*img.size)
    arr: NDArray[np.uint8] = simplejpeg.decode_jpeg(
        data, colorspace=colorspace, min_width=w, min_height=h
    )
    assert arr.shape[:2] == (h, w)
    return arr


def ycbcr_eighth(data: bytes) -> NDArray[np.uint8]:
    """libjpeg-turbo's YCbCr planes at 1/8 scale, no colour conversion (Pillow's draft)."""
    img = Image.open(io.BytesIO(data))
    full = img.size
    img.draft("YCbCr", (full[0] // 8, full[1] // 8))
    assert img.mode == "YCbCr" and img.size == eighth_size(*full)
    return np.asarray(img)


def ours(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    out = thumbnail_from_dc(data, eighth_size(*img.size))
    assert out is not None
    return out


# Odd sizes leave partial blocks and MCUs at the right and bottom edges.
SIZES = [(2001, 1503), (1600, 1200), (333, 517)]


class TestMatchesLibjpegTurbo:
    @pytest.mark.parametrize("size", SIZES)
    @pytest.mark.parametrize("subsampling", ["4:4:4", "4:2:2", "4:2:0", "4:1:1"])
    def test_luma_is_bit_identical(self, size: tuple[int, int], subsampling: str) -> None:
        data = jpeg(photo(*size), quality=90, subsampling=subsampling)
        image = decode_dc(data)
        assert image is not None
        assert np.array_equal(image.plane(0), eighth(data, "GRAY")[..., 0])

    @pytest.mark.parametrize("size", SIZES)
    def test_grey_jpeg_is_bit_identical(self, size: tuple[int, int]) -> None:
        data = jpeg(photo(*size).convert("L"), quality=85)
        image = decode_dc(data)
        assert image is not None and len(image.planes) == 1
        assert np.array_equal(image.plane(0), eighth(data, "GRAY")[..., 0])
        assert ours(data).mode == "L"

    @pytest.mark.parametrize("size", SIZES)
    @pytest.mark.parametrize("subsampling", ["4:4:4", "4:2:0"])
    def test_every_plane_is_bit_identical(self, size: tuple[int, int], subsampling: str) -> None:
        # 4:2:0 chroma goes through the 2x2 reduced IDCT, as in libjpeg-turbo.
        data = jpeg(photo(*size), quality=90, subsampling=subsampling)
        image = decode_dc(data)
        assert image is not None
        for index in range(3):
            assert np.array_equal(image.plane(index), ycbcr_eighth(data)[..., index])

    def test_4_2_2_chroma_is_close(self) -> None:
        # libjpeg-turbo upsamples 4:2:2 chroma with its own filter; we resample once.
        data = jpeg(photo(1600, 1200), quality=90, subsampling="4:2:2")
        diff = np.abs(np.asarray(ours(data)).astype(int) - eighth(data, "RGB"))
        assert diff.mean() < 1.5

    @pytest.mark.parametrize(
        "params", [{"restart_marker_blocks": 7}, {"restart_marker_rows": 1}, {"optimize": True}]
    )
    def test_restart_markers_and_optimized_tables(self, params: dict[str, Any]) -> None:
        data = jpeg(photo(1201, 899), quality=95, **params)
        image = decode_dc(data)
        assert image is not None
        assert np.array_equal(image.plane(0), eighth(data, "GRAY")[..., 0])


class TestFallsBack:
    """Anything outside baseline Huffman greyscale/YCbCr, or a stream that does not decode
    cleanly, is left to libjpeg-turbo: ``None``."""

    @pytest.mark.parametrize(
        ("mode", "params"),
        [
            ("RGB", {"progressive": True}),
            ("RGB", {"keep_rgb": True}),
            ("CMYK", {}),
        ],
    )
    def test_unsupported_encodings(self, mode: str, params: dict[str, Any]) -> None:
        data = jpeg(photo(1600, 1200).convert(mode), quality=90, **params)
        assert thumbnail_from_dc(data, (200, 150)) is None

    def test_truncated_scan(self) -> None:
        data = jpeg(photo(1600, 1200), quality=90)
        assert thumbnail_from_dc(data[: len(data) // 2], (200, 150)) is None

    def test_not_a_jpeg(self) -> None:
        assert thumbnail_from_dc(b"\x89PNG\r\n\x1a\n" + bytes(100), (10, 10)) is None
        assert thumbnail_from_dc(b"", (10, 10)) is None

    @settings(max_examples=150, deadline=None)
    @given(data=st.data())
    def test_corrupt_bytes_never_crash(self, data: st.DataObject) -> None:
        original = bytearray(CORRUPTIBLE)
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, len(original) - 1))
            original[at] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(len(original) // 2, len(original)))
        out = thumbnail_from_dc(bytes(original[:cut]), (100, 75))
        assert out is None or out.size == (100, 75)


CORRUPTIBLE = jpeg(photo(800, 600, seed=3), quality=80, restart_marker_blocks=13)


class TestThumbnailPath:
    def test_large_jpeg_thumbnail_comes_from_the_dc_path(self) -> None:
        data = jpeg(photo(4000, 3000), quality=90)
        expected = thumbnail_from_dc(data, (267, 200))
        assert expected is not None
        thumb, w, h = make_thumbnail(data)
        assert (w, h) == (267, 200)
        got = np.asarray(decode_jpeg(thumb)).astype(int)
        # Only the q50 encoding stands between them.
        assert np.abs(got - np.asarray(expected)).mean() < 2.5

    def test_progressive_jpeg_still_gets_a_thumbnail(self) -> None:
        img = photo(4000, 3000)
        fast = decode_jpeg(make_thumbnail(jpeg(img, quality=90))[0])
        slow = decode_jpeg(make_thumbnail(jpeg(img, quality=90, progressive=True))[0])
        assert fast.size == slow.size == (267, 200)
        assert np.abs(np.asarray(fast).astype(int) - np.asarray(slow)).mean() < 2.0

    def test_exif_rotation_applies_on_the_dc_path(self) -> None:
        exif = Image.Exif()
        exif[0x0112] = 6  # shown rotated 90 degrees clockwise
        data = jpeg(photo(3000, 2000), quality=90, exif=exif)
        thumb, w, h = make_thumbnail(data)
        arr = np.asarray(decode_jpeg(thumb))
        assert (w, h) == (133, 200) and arr.shape[:2] == (200, 133)
        assert arr[:20, -20:].mean() > 240  # the stored top-left marker, now top-right
