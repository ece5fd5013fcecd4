from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from moorage.media import MediaError, MemorySink, make_thumbnail, process_slot
from moorage.media.render import fit_within

from .conftest import decode, decode_jpeg


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth colour field with texture, like a photograph, and a white top-left marker."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    arr = np.asarray(img).astype(np.int16) + rng.normal(0, 4, (height, width, 3)).astype(np.int16)
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    arr[: height // 5, : width // 5] = 255
    return Image.fromarray(arr)


def save(img: Image.Image, path: Path, **params: object) -> Path:
    img.save(path, **params)
    return path


class TestThumbnail:
    @pytest.mark.parametrize(
        ("size", "expected"),
        [
            ((4000, 3000), (267, 200)),
            ((1000, 100), (356, 36)),
            ((100, 1000), (20, 200)),
            ((356, 200), (356, 200)),
            ((120, 80), (120, 80)),
        ],
    )
    def test_fits_356x200_without_upscaling(
        self, size: tuple[int, int], expected: tuple[int, int]
    ) -> None:
        assert fit_within(*size) == expected

    def test_jpeg_thumbnail_is_quality_50_and_fits(self, tmp_path: Path) -> None:
        path = save(photo(2400, 1800), tmp_path / "p.jpg", quality=92)
        data, w, h = make_thumbnail(path)
        thumb = decode_jpeg(data)
        assert (w, h) == thumb.size == (267, 200)
        # Pillow estimates the encoder quality from the quantisation tables.
        q50 = io.BytesIO()
        thumb.save(q50, "JPEG", quality=50)
        assert thumb.quantization == decode_jpeg(q50.getvalue()).quantization

    def test_draft_mode_matches_a_full_decode(self, tmp_path: Path) -> None:
        img = photo(2400, 1800)
        path = save(img, tmp_path / "p.jpg", quality=92)
        fast = np.asarray(decode_jpeg(make_thumbnail(path)[0])).astype(np.int16)
        slow = img.resize((267, 200), Image.Resampling.LANCZOS)
        reference = np.asarray(decode_jpeg(_jpeg(slow, 50))).astype(np.int16)
        assert np.abs(fast - reference).mean() < 3.0

    @pytest.mark.parametrize("mode", ["L", "CMYK"])
    def test_grey_and_cmyk_jpegs(self, tmp_path: Path, mode: str) -> None:
        path = save(photo(1200, 900).convert(mode), tmp_path / "p.jpg", quality=90)
        data, w, h = make_thumbnail(path)
        thumb = decode_jpeg(data)
        assert (w, h) == thumb.size == (267, 200)
        assert thumb.mode == ("L" if mode == "L" else "RGB")
        assert np.asarray(thumb.convert("L"))[:20, :20].mean() > 230  # the white marker

    def test_mpo_uses_the_primary_image(self, tmp_path: Path) -> None:
        path = tmp_path / "stereo.mpo"
        photo(800, 600).save(path, "MPO", save_all=True, append_images=[photo(800, 600, 1)])
        data, w, h = make_thumbnail(path)
        assert (w, h) == decode_jpeg(data).size == (267, 200)

    def test_accepts_bytes_and_file_objects(self, tmp_path: Path) -> None:
        data = _jpeg(photo(800, 600), 90)
        assert make_thumbnail(data)[1:] == (267, 200)
        assert make_thumbnail(io.BytesIO(data))[1:] == (267, 200)

    def test_small_images_are_not_upscaled(self, tmp_path: Path) -> None:
        path = save(photo(120, 80), tmp_path / "small.png")
        data, w, h = make_thumbnail(path)
        assert (w, h) == decode_jpeg(data).size == (120, 80)

    def test_exif_orientation_is_applied(self, tmp_path: Path) -> None:
        path = tmp_path / "rotated.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise
        photo(600, 400).save(path, quality=92, exif=exif)
        data, w, h = make_thumbnail(path)
        arr = np.asarray(decode_jpeg(data))
        assert (w, h) == (133, 200)
        assert arr.shape[:2] == (200, 133)
        # The stored top-left marker is now top-right.
        assert arr[:20, -20:].mean() > 240
        assert arr[:20, :20].mean() < 230


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class TestBrowserViewable:
    @pytest.mark.parametrize(
        ("name", "mode", "params"),
        [
            ("a.jpg", "RGB", {"quality": 90}),
            ("a.png", "RGBA", {}),
            ("a.png", "L", {}),
            ("a.bmp", "RGB", {}),
            ("a.webp", "RGB", {"quality": 80}),
            ("a.gif", "P", {}),
        ],
    )
    def test_no_sections_only_size_and_thumbnail(
        self, tmp_path: Path, sink: MemorySink, name: str, mode: str, params: dict[str, object]
    ) -> None:
        path = save(photo(640, 480).convert(mode), tmp_path / name, **params)
        result = process_slot("image", [path], sink=sink)
        assert (result.width, result.height) == (640, 480)
        assert result.sections == []
        assert result.total_sections == 1
        assert result.metadata["rendered"] is False
        assert sink.names() == ["thumbnail.jpg"]
        assert decode_jpeg(sink["thumbnail.jpg"]).size == (267, 200)


class TestRendered:
    def test_16_bit_tiff_is_stretched_to_8_bit(self, tmp_path: Path, sink: MemorySink) -> None:
        ramp = np.linspace(1000, 4000, 300, dtype=np.uint16)
        arr = np.tile(ramp, (200, 1))
        path = save(Image.fromarray(arr), tmp_path / "deep.tif")
        result = process_slot("image", [path], sink=sink)
        assert result.metadata["mode"] == "I;16"
        assert result.metadata["rendered"] is True
        assert len(result.sections) == 1
        section = result.sections[0]
        assert section.hq_name == "sections/high/000000001.png"
        assert section.lq_name == "sections/low/000000001.jpg"
        hq = decode(sink[section.hq_name])
        assert hq.mode == "L"
        assert hq.size == (300, 200)
        pixels = np.asarray(hq)
        assert pixels.min() == 0
        assert pixels.max() == 255
        assert pixels[0, 150] == pytest.approx(127, abs=2)

    def test_16_bit_png(self, tmp_path: Path, sink: MemorySink) -> None:
        arr = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).astype(np.uint16)
        path = save(Image.fromarray(arr), tmp_path / "deep.png")
        result = process_slot("image", [path], sink=sink)
        assert result.metadata["rendered"] is True
        assert np.asarray(decode(sink["sections/high/000000001.png"])).max() == 255

    def test_multi_page_tiff_gives_one_section_per_page(
        self, tmp_path: Path, sink: MemorySink
    ) -> None:
        pages = [photo(300, 200, seed=i) for i in range(3)] + [photo(150, 400, seed=3)]
        path = tmp_path / "pages.tif"
        pages[0].save(path, save_all=True, append_images=pages[1:])
        result = process_slot("image", [path], sink=sink)
        assert result.total_sections == 4
        assert result.metadata["pages"] == 4
        assert [(s.width, s.height) for s in result.sections] == [(300, 200)] * 3 + [(150, 400)]
        assert (result.width, result.height) == (300, 200)
        assert len(sink.names("sections/high/")) == 4
        for index, page in enumerate(pages, start=1):
            hq = np.asarray(decode(sink[f"sections/high/{index:09d}.png"]))
            assert np.array_equal(hq, np.asarray(page))

    def test_exif_rotated_jpeg_gets_an_upright_section(
        self, tmp_path: Path, sink: MemorySink
    ) -> None:
        path = tmp_path / "rotated.jpg"
        exif = Image.Exif()
        exif[0x0112] = 8  # shown rotated 90 degrees counter-clockwise
        photo(600, 400).save(path, quality=92, exif=exif)
        result = process_slot("image", [path], sink=sink)
        assert (result.width, result.height) == (400, 600)
        assert result.metadata["exif_orientation"] == 8
        hq = np.asarray(decode_jpeg(sink["sections/high/000000001.jpg"]))
        assert hq.shape[:2] == (600, 400)
        assert hq[-20:, :20].mean() > 240  # top-left marker turned to bottom-left

    def test_cmyk_jpeg(self, tmp_path: Path, sink: MemorySink) -> None:
        path = save(photo(200, 100).convert("CMYK"), tmp_path / "cmyk.jpg", quality=90)
        result = process_slot("image", [path], sink=sink)
        assert result.metadata["rendered"] is True
        assert decode_jpeg(sink["sections/high/000000001.jpg"]).mode == "RGB"


class TestSeveralFiles:
    def test_one_section_per_page_of_each_file_in_order(
        self, tmp_path: Path, sink: MemorySink
    ) -> None:
        first = save(photo(300, 200, seed=1), tmp_path / "b.jpg", quality=90)
        pages = tmp_path / "a.tif"
        photo(120, 80, seed=2).save(pages, save_all=True, append_images=[photo(120, 80, seed=3)])
        calls: list[tuple[int, int]] = []
        result = process_slot(
            "image", [first, pages], sink=sink, progress=lambda d, t: calls.append((d, t))
        )
        assert result.total_sections == 3
        assert [(s.index, s.width) for s in result.sections] == [(1, 300), (2, 120), (3, 120)]
        assert result.sections[0].hq_name == "sections/high/000000001.jpg"
        assert result.sections[2].hq_name == "sections/high/000000003.png"
        assert result.metadata["files"] == [
            {"file": "b.jpg", "first_section": 1, "format": "JPEG"},
            {"file": "a.tif", "first_section": 2, "format": "TIFF"},
        ]
        assert (result.width, result.height) == (300, 200)
        assert decode_jpeg(sink["thumbnail.jpg"]).size == (300, 200)
        assert calls == [(1, 2), (2, 2)]


class TestErrors:
    def test_not_an_image(self, tmp_path: Path, sink: MemorySink) -> None:
        path = tmp_path / "junk.jpg"
        path.write_bytes(b"this is not an image" * 50)
        with pytest.raises(MediaError) as err:
            process_slot("image", [path], sink=sink)
        assert err.value.stage == "probe"

    def test_truncated_jpeg(self, tmp_path: Path, sink: MemorySink) -> None:
        data = _jpeg(photo(800, 600), 90)
        path = tmp_path / "cut.jpg"
        path.write_bytes(data[: len(data) // 3])
        with pytest.raises(MediaError) as err:
            process_slot("image", [path], sink=sink)
        assert err.value.stage == "decode"
        assert "thumbnail.jpg" not in sink

    def test_missing_file(self, tmp_path: Path, sink: MemorySink) -> None:
        with pytest.raises(MediaError) as err:
            process_slot("image", [tmp_path / "nope.png"], sink=sink)
        assert err.value.stage == "probe"
