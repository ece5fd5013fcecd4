"""Media fixtures: real files made at test time, and the test files pydicom and nibabel ship."""

from __future__ import annotations

import io
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import nibabel
import numpy as np
import pydicom
import pytest
from PIL import Image

from moorage.media import MemorySink

PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
NIBABEL_DATA = Path(nibabel.__file__).parent / "tests" / "data"


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture(scope="session")
def dicom_files() -> Path:
    return PYDICOM_FILES


@pytest.fixture(scope="session")
def nifti_files() -> Path:
    return NIBABEL_DATA


def frame_colour(index: int) -> tuple[int, int, int]:
    """The flat colour of frame ``index`` in generated videos: it encodes the frame number."""
    return (index * 2) % 256, 128, 255 - (index * 2) % 256


def write_video(
    path: Path,
    *,
    seconds: float = 4.0,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    codec: str = "libx264",
    rotation: int | None = None,
    audio: bool = False,
    pts_of: Callable[[int], int] | None = None,
    time_base: str | None = None,
    colour: tuple[int, int, int] | None = None,
    bt709: bool = False,
    gop: int | None = None,
) -> Path:
    """Encode a real clip with PyAV; frame ``i`` is a flat ``frame_colour(i)`` with a white
    top-left marker, so tests can tell frames and orientation apart after decoding. ``colour``
    paints every frame one flat colour instead; ``bt709`` converts and tags the stream as
    BT.709 (as HD cameras do) instead of the default BT.601."""
    width, height = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if time_base:
            stream.codec_context.time_base = Fraction(time_base)
        if bt709:
            stream.codec_context.colorspace = 1
        if gop is not None:  # a keyframe every ``gop`` frames (HLS segments start at them)
            stream.codec_context.gop_size = gop
        if rotation is not None:
            stream.set_display_rotation(rotation)
        audio_stream = out.add_stream("aac", rate=44100) if audio else None
        n = round(seconds * fps)
        for i in range(n):
            arr = np.empty((height, width, 3), dtype=np.uint8)
            arr[:] = colour or frame_colour(i)
            if colour is None:
                arr[: height // 4, : width // 4] = 255
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            if bt709:
                frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range=1)
            frame.pts = pts_of(i) if pts_of else i
            if time_base:
                frame.time_base = Fraction(time_base)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio_stream is not None:
            samples = int(seconds * 44100)
            chunk = 1024
            for start in range(0, samples, chunk):
                data = np.zeros((1, chunk), dtype=np.float32)
                aframe = av.AudioFrame.from_ndarray(data, format="fltp", layout="mono")
                aframe.sample_rate = 44100
                aframe.pts = start
                for packet in audio_stream.encode(aframe):
                    out.mux(packet)
            for packet in audio_stream.encode():
                out.mux(packet)
    return path


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s, 25 fps, 320x240 H.264, no audio: 100 frames."""
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4")


def decode_jpeg(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    img.load()
    return img


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img
