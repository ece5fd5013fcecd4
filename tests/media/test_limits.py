"""Caps per slot: checked from the header or probe before the work, and while it runs."""

from __future__ import annotations

import gzip
import time
import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pypdfium2 as pdfium
import pytest
from PIL import Image

from moorage.media import LimitExceeded, Limits, MediaError, MemorySink, process_slot
from tests.media.conftest import write_video


def blank_pdf(path: Path, pages: int) -> Path:
    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(595, 842).close()
    pdf.save(str(path))
    pdf.close()
    return path


@pytest.fixture(scope="module")
def page_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 blank A4 pages in ~2.5 MB: rendered, 40,000 files and a quarter of an hour."""
    return blank_pdf(tmp_path_factory.mktemp("pdf") / "bomb.pdf", 20_000)


def nifti_claiming(path: Path, shape: tuple[int, ...], *, gz: bool = False) -> Path:
    """A tiny real NIfTI-1 file whose header claims ``shape`` (the voxels are not there)."""
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    img.header.set_data_shape(shape)
    data = img.header.binaryblock + b"\0" * 4 + np.zeros(64, np.int16).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


class TestPdfPages:
    def test_page_bomb_fails_before_rendering(self, page_bomb: Path, sink: MemorySink) -> None:
        assert page_bomb.stat().st_size < 3_000_000
        started = time.monotonic()
        with pytest.raises(LimitExceeded) as caught:
            process_slot("pdf", [page_bomb], sink=sink, limits=Limits(max_pages=2_000))
        assert time.monotonic() - started < 10
        assert caught.value.limit == "max_pages_per_slot"
        assert (caught.value.count, caught.value.allowed) == (20_000, 2_000)
        assert "20000 pages" in caught.value.message and "2000" in caught.value.message
        assert caught.value.stage == "pages"
        assert sink.names() == []

    def test_under_the_cap_renders(self, tmp_path: Path, sink: MemorySink) -> None:
        pdf = blank_pdf(tmp_path / "three.pdf", 3)
        result = process_slot("pdf", [pdf], sink=sink, limits=Limits(max_pages=3))
        assert result.total_sections == 3


class TestDerivativeBytes:
    def test_slot_stops_once_its_bytes_pass_the_cap(self, tmp_path: Path, sink) -> None:
        pdf = blank_pdf(tmp_path / "ten.pdf", 10)
        with pytest.raises(LimitExceeded) as caught:
            process_slot("pdf", [pdf], sink=sink, limits=Limits(max_bytes=20_000))
        assert caught.value.limit == "max_derivative_bytes"
        written = sum(len(data) for data, _ in sink.files.values())
        assert written <= 20_000
        assert len(sink.names("sections/high/")) < 10


class TestVideoFrames:
    def test_frames_counted_from_the_container_before_decoding(
        self, clip: Path, sink: MemorySink
    ) -> None:
        with pytest.raises(LimitExceeded) as caught:
            process_slot("video", [clip], sink=sink, limits=Limits(max_frames=50))
        assert (caught.value.limit, caught.value.count) == ("max_frames_per_slot", 100)
        assert sink.names() == []

    def test_the_cap_counts_sampled_frames(self, clip: Path, sink: MemorySink) -> None:
        result = process_slot("video", [clip], sink=sink, fps=5, limits=Limits(max_frames=50))
        assert result.total_sections == 20

    def test_a_container_without_a_count_is_stopped_while_decoding(
        self, tmp_path: Path, sink: MemorySink
    ) -> None:
        import av

        raw = tmp_path / "stream.h264"  # an elementary stream: no frame count, no duration
        src = write_video(tmp_path / "clip.mp4", seconds=2, fps=25)
        with av.open(str(src)) as inp, av.open(str(raw), "w", format="h264") as out:
            stream = out.add_stream_from_template(inp.streams.video[0])
            for packet in inp.demux(inp.streams.video[0]):
                if packet.dts is not None:
                    packet.stream = stream
                    out.mux(packet)
        with pytest.raises(LimitExceeded) as caught:
            process_slot("video", [raw], sink=sink, limits=Limits(max_frames=10))
        assert caught.value.count == 11
        assert len(sink.names("sections/high/")) <= 10


class TestDicomSlices:
    def test_frames_of_the_series_from_the_headers(self, dicom_files: Path, sink) -> None:
        with pytest.raises(LimitExceeded) as caught:
            process_slot(
                "dicom",
                [dicom_files / "examples_ybr_color.dcm"],
                sink=sink,
                limits=Limits(max_slices=29),
            )
        assert (caught.value.limit, caught.value.count) == ("max_slices_per_slot", 30)
        assert sink.names() == []

    def test_a_frame_too_large_to_decode_fails_from_the_header(
        self, dicom_files: Path, tmp_path: Path, sink: MemorySink
    ) -> None:
        ds = pydicom.dcmread(dicom_files / "CT_small.dcm")
        ds.Rows, ds.Columns = 60_000, 60_000
        ds.save_as(tmp_path / "huge.dcm")
        limits = Limits(max_volume_bytes=2 * 1024**3)
        with pytest.raises(LimitExceeded) as caught:
            process_slot("dicom", [tmp_path / "huge.dcm"], sink=sink, limits=limits)
        assert caught.value.limit == "max_volume_bytes"
        assert caught.value.count == 60_000 * 60_000 * 2


class TestNiftiVolume:
    LIMITS = Limits(max_slices=5_000, max_volume_bytes=2 * 1024**3)

    @pytest.mark.parametrize("gz", [False, True], ids=["nii", "nii.gz"])
    def test_header_claiming_20000_cubed_fails_before_allocating(
        self, tmp_path: Path, sink: MemorySink, gz: bool
    ) -> None:
        path = nifti_claiming(tmp_path / f"bomb.nii{'.gz' if gz else ''}", (20_000,) * 3, gz=gz)
        tracemalloc.start()
        try:
            with pytest.raises(LimitExceeded) as caught:
                process_slot("nifti", [path], sink=sink, limits=self.LIMITS)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 20 * 1024**2
        assert caught.value.limit == "max_volume_bytes"
        assert str(20_000**3 * 2) in caught.value.message

    def test_too_many_slices(self, tmp_path: Path, sink: MemorySink) -> None:
        path = nifti_claiming(tmp_path / "tall.nii", (8, 8, 6_000))
        with pytest.raises(LimitExceeded) as caught:
            process_slot("nifti", [path], sink=sink, limits=self.LIMITS)
        assert (caught.value.limit, caught.value.count) == ("max_slices_per_slot", 6_000)

    def test_extra_views_count_towards_the_slices(self, tmp_path: Path, sink) -> None:
        path = tmp_path / "cube.nii"
        nib.save(
            nib.Nifti1Image(np.arange(1000, dtype=np.int16).reshape(10, 10, 10), np.eye(4)), path
        )
        limits = Limits(max_slices=25)
        assert process_slot("nifti", [path], sink=sink, limits=limits).total_sections == 10
        with pytest.raises(LimitExceeded) as caught:
            process_slot("nifti", [path], sink=MemorySink(), extract_views=True, limits=limits)
        assert caught.value.count == 30

    def test_header_claiming_more_than_the_file_holds(self, tmp_path: Path, sink) -> None:
        path = nifti_claiming(tmp_path / "short.nii", (100, 100, 100))
        with pytest.raises(MediaError, match="the file holds") as caught:
            process_slot("nifti", [path], sink=sink, limits=self.LIMITS)
        assert caught.value.stage == "decode"


class TestImagePages:
    def test_multi_page_tiff(self, tmp_path: Path, sink: MemorySink) -> None:
        pages = [Image.new("L", (32, 32), i * 40) for i in range(5)]
        pages[0].save(tmp_path / "stack.tif", save_all=True, append_images=pages[1:])
        with pytest.raises(LimitExceeded) as caught:
            process_slot("image", [tmp_path / "stack.tif"], sink=sink, limits=Limits(max_pages=4))
        assert (caught.value.limit, caught.value.count) == ("max_pages_per_slot", 5)
        assert sink.names() == []
