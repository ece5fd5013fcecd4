"""PDF (pypdfium2, PDFium's renderer): one section per page.

Pages render at 150 DPI (A4 -> 1240x1754), reduced for very large pages so no side exceeds
4000 px. hq is a PNG (text stays crisp), lq a JPEG per the lq size rule; the thumbnail is
page 1. Slot width/height are page 1's rendered size; ``metadata.pages`` is the page count,
``metadata.dpi`` the resolution of page 1 and ``metadata.page_size_pt`` its size in points.
Pages render one at a time. PDFium is not thread-safe (not even across documents), so a
process-wide lock serialises PDF work; encoding the rendered pages happens outside it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

from moorage.media.base import THUMBNAIL_NAME, DerivativeSink, MediaError, Progress, SlotResult
from moorage.media.limits import NO_LIMITS, Limits
from moorage.media.render import thumbnail_of, write_section

__all__ = ["DPI", "MAX_SIDE", "process_pdf"]

DPI = 150
MAX_SIDE = 4000
_PDFIUM = threading.Lock()


def _scale(width_pt: float, height_pt: float) -> float:
    scale = DPI / 72
    longest = max(width_pt, height_pt, 1.0) * scale
    return scale * min(1.0, MAX_SIDE / longest)


def process_pdf(
    sources: list[Path],
    *,
    sink: DerivativeSink,
    progress: Progress | None = None,
    limits: Limits = NO_LIMITS,
) -> SlotResult:
    if not sources:
        raise MediaError("no file given", stage="probe")
    with _PDFIUM:
        try:
            doc = pdfium.PdfDocument(str(sources[0]))
        except (pdfium.PdfiumError, OSError) as exc:
            raise MediaError(f"not a readable PDF: {exc}", stage="probe") from exc
        count = len(doc)
    try:
        if count == 0:
            raise MediaError("the PDF has no pages", stage="pages")
        limits.pages(count)  # from the page tree, before a single page is rendered
    except MediaError:
        with _PDFIUM:
            doc.close()
        raise
    sections = []
    metadata: dict[str, Any] = {"pages": count}
    try:
        for index in range(count):
            with _PDFIUM:
                try:
                    page = doc[index]
                    try:
                        width_pt, height_pt = page.get_size()
                        scale = _scale(width_pt, height_pt)
                        image = page.render(scale=scale).to_pil()
                    finally:
                        page.close()
                except pdfium.PdfiumError as exc:
                    message = f"cannot render page {index + 1}: {exc}"
                    raise MediaError(message, stage="pages") from exc
            sections.append(write_section(sink, index + 1, image, hq_format="png"))
            if index == 0:
                thumb, _, _ = thumbnail_of(image)
                sink.put(THUMBNAIL_NAME, thumb, "image/jpeg")
                metadata["dpi"] = round(scale * 72, 2)
                metadata["page_size_pt"] = [round(width_pt, 2), round(height_pt, 2)]
            if progress:
                progress(index + 1, count)
    finally:
        with _PDFIUM:
            doc.close()
    first = sections[0]
    metadata.update(width=first.width, height=first.height)
    return SlotResult(first.width, first.height, count, metadata, sections, THUMBNAIL_NAME)
