from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from moorage.media import MediaError, MemorySink, process_slot
from moorage.media.render import lq_size

from .conftest import decode, decode_jpeg


def write_pdf(path: Path, sizes: list[tuple[int, int]]) -> Path:
    """A real PDF made by Pillow: one page per size (in points at 72 DPI), each page white
    with a black square in its top-left corner."""
    pages = []
    for width, height in sizes:
        page = Image.new("RGB", (width, height), "white")
        ImageDraw.Draw(page).rectangle([0, 0, width // 4, height // 4], fill="black")
        pages.append(page)
    pages[0].save(path, "PDF", resolution=72, save_all=True, append_images=pages[1:])
    return path


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    return write_pdf(tmp_path / "doc.pdf", [(612, 792), (612, 792), (792, 612)])


class TestPages:
    def test_one_section_per_page(self, pdf: Path, sink: MemorySink) -> None:
        result = process_slot("pdf", [pdf], sink=sink)
        assert result.total_sections == 3
        assert result.metadata["pages"] == 3
        assert [s.index for s in result.sections] == [1, 2, 3]
        assert result.sections[0].hq_name == "sections/high/000000001.png"
        assert result.sections[2].lq_name == "sections/low/000000003.jpg"

    def test_pages_render_at_150_dpi(self, pdf: Path, sink: MemorySink) -> None:
        result = process_slot("pdf", [pdf], sink=sink)
        # US Letter at 150 DPI is 1275x1650; PDFium rounds the height up by one pixel.
        assert result.width == 1275
        assert result.height == pytest.approx(1650, abs=1)
        assert result.metadata["dpi"] == 150
        assert result.metadata["page_size_pt"] == [612, 792]
        sizes = [(s.width, s.height) for s in result.sections]
        assert sizes[0] == sizes[1] == (result.width, result.height)
        assert sizes[2] == pytest.approx((1650, 1275), abs=1)  # landscape page
        assert decode(sink["sections/high/000000003.png"]).size == sizes[2]

    def test_rendered_content(self, pdf: Path, sink: MemorySink) -> None:
        process_slot("pdf", [pdf], sink=sink)
        page = np.asarray(decode(sink["sections/high/000000001.png"]).convert("L"))
        assert page[:300, :300].mean() < 10  # the black square, top-left
        assert page[-300:, -300:].mean() > 245

    def test_lq_and_thumbnail(self, pdf: Path, sink: MemorySink) -> None:
        result = process_slot("pdf", [pdf], sink=sink)
        lq = decode_jpeg(sink["sections/low/000000001.jpg"]).size
        assert lq == lq_size(result.width, result.height)
        assert lq[1] == 720  # at most 720 px high
        assert decode_jpeg(sink["thumbnail.jpg"]).size == (154, 200)

    def test_huge_pages_are_capped(self, tmp_path: Path, sink: MemorySink) -> None:
        path = write_pdf(tmp_path / "poster.pdf", [(3600, 1800)])
        result = process_slot("pdf", [path], sink=sink)
        assert (result.width, result.height) == (4000, 2000)

    def test_progress_per_page(self, pdf: Path, sink: MemorySink) -> None:
        calls: list[tuple[int, int]] = []
        process_slot("pdf", [pdf], sink=sink, progress=lambda d, t: calls.append((d, t)))
        assert calls == [(1, 3), (2, 3), (3, 3)]


class TestErrors:
    def test_not_a_pdf(self, tmp_path: Path, sink: MemorySink) -> None:
        path = tmp_path / "x.pdf"
        path.write_bytes(b"%PDF-1.4\n garbage garbage")
        with pytest.raises(MediaError) as err:
            process_slot("pdf", [path], sink=sink)
        assert err.value.stage == "probe"
