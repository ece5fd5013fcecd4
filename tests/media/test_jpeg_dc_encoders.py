"""The reduced decoder against libjpeg-turbo on JPEGs from other encoders than Pillow.

cjpeg (libjpeg-turbo's own encoder), ImageMagick and ffmpeg's mjpeg encode at test time, with
every subsampling they offer, restart intervals, optimised and standard tables and odd sizes;
the JPEG frames of the DICOM files pydicom ships come from dcmtk, GDCM and imaging devices.
Every plane must equal libjpeg-turbo's 1/8-scale decode bit for bit (coarser chroma, 4:2:2,
4:4:0, 4:1:1, compared before libjpeg-turbo replicates it onto the luma grid). A file the decoder leaves to
libjpeg-turbo must be one it is meant to leave (progressive, arithmetic, RGB, 12-bit); Debian's
cjpeg (2.1) makes no 12-bit files, a DICOM file gives one.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from numpy.typing import NDArray
from PIL import Image
from pydicom.encaps import generate_frames

from moorage.media.jpeg_dc import DcImage, decode_dc, decode_dc_strict, eighth_size

from .conftest import PYDICOM_FILES
from .test_images import photo
from .test_jpeg_dc import ycbcr_eighth


def busy(width: int, height: int, seed: int) -> Image.Image:
    """Strong noise and hard edges: long codes, large values, zero runs past 16 (ZRL)."""
    rng = np.random.default_rng(seed)
    arr = np.asarray(photo(width, height, seed)).astype(np.int16)
    arr = arr + rng.normal(0, 40, arr.shape).astype(np.int16)
    arr[:, width // 3 : width // 2] = (0, 255, 0)
    arr[height // 2 :, ::7] = 0
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def source(tmp: Path, size: tuple[int, int], kind: str, suffix: str) -> Path:
    img = busy(*size, seed=size[0]) if kind == "busy" else photo(*size, seed=size[1])
    path = tmp / f"source{suffix}"
    img.save(path)
    return path


def encode(tmp: Path, tool: str, flags: list[str], size: tuple[int, int], kind: str) -> bytes:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed: run scripts/system-deps.sh")
    out = tmp / "out.jpg"
    if tool == "cjpeg":
        cmd = ["cjpeg", *flags, "-outfile", str(out), str(source(tmp, size, kind, ".ppm"))]
    elif tool == "convert":
        cmd = ["convert", str(source(tmp, size, kind, ".png")), *flags, str(out)]
    else:
        src = str(source(tmp, size, kind, ".png"))
        cmd = ["ffmpeg", "-v", "error", "-y", "-i", src, "-c:v", "mjpeg", *flags, str(out)]
    subprocess.run(cmd, check=True)
    return out.read_bytes()


def assert_matches_libjpeg_turbo(data: bytes, image: DcImage) -> None:
    """Every plane against libjpeg-turbo's YCbCr (or grey) output at 1/8 scale, where chroma
    coarser than luma is replicated onto the luma grid (at 1/8 scale libjpeg-turbo does not use
    its fancy upsampling: jdsample.c, ``min_DCT_scaled_size > 1``)."""
    ref = ycbcr_eighth_or_grey(data)
    rows, cols = ref.shape[:2]
    assert (cols, rows) == eighth_size(image.width, image.height)
    hmax = max(s[0] for s in image.sampling)
    vmax = max(s[1] for s in image.sampling)
    for index, (h, v) in enumerate(image.sampling[: ref.shape[2]]):
        plane = image.plane(index).repeat(vmax // v, axis=0).repeat(hmax // h, axis=1)
        assert np.array_equal(plane[:rows, :cols], ref[..., index]), f"plane {index} differs"


def djpeg_grey_eighth(data: bytes) -> NDArray[np.uint8]:
    """libjpeg-turbo's luma at 1/8 scale from its own ``djpeg``: below 4x4 pixels simplejpeg's
    ``min_width`` cannot tell 1/8 from 1/4 scale."""
    if shutil.which("djpeg") is None:
        pytest.fail("djpeg is not installed: run scripts/system-deps.sh")
    cmd = ["djpeg", "-scale", "1/8", "-grayscale", "-pnm"]
    pgm = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    return np.asarray(Image.open(io.BytesIO(pgm)))[..., None]


def ycbcr_eighth_or_grey(data: bytes) -> NDArray[np.uint8]:
    img = Image.open(io.BytesIO(data))
    if min(img.size) < 8:  # Pillow's draft cannot ask for 1/8 there: luma only, from djpeg
        return djpeg_grey_eighth(data)
    if img.mode == "L":
        img.draft("L", (img.size[0] // 8, img.size[1] // 8))
        return np.asarray(img)[..., None]
    return ycbcr_eighth(data)


def check(data: bytes, in_scope: bool = True) -> None:
    image = decode_dc_strict_or_none(data)
    if not in_scope:
        assert image is None, "decoded a file meant for libjpeg-turbo"
        return
    assert image is not None, "left to libjpeg-turbo a file it should decode"
    assert_matches_libjpeg_turbo(data, image)


def decode_dc_strict_or_none(data: bytes) -> DcImage | None:
    """The strict entry point: an exception other than the fallback signal fails the test."""
    from moorage.media.jpeg_dc import Unsupported

    try:
        image = decode_dc_strict(data)
    except Unsupported:
        image = None
    assert (image is None) == (decode_dc(data) is None)
    return image


SIZES = [(1001, 749), (333, 517), (64, 64), (17, 9)]

CJPEG = {
    "420": ["-sample", "2x2"],
    "422": ["-sample", "2x1"],
    "440": ["-sample", "1x2"],
    "444": ["-sample", "1x1"],
    "411": ["-sample", "4x1"],
    "420-restart-rows": ["-sample", "2x2", "-restart", "1"],
    "422-restart-blocks": ["-sample", "2x1", "-restart", "5B"],
    "444-optimized-restart": ["-sample", "1x1", "-optimize", "-restart", "3B"],
    "420-q100-optimized": ["-sample", "2x2", "-quality", "100", "-optimize"],
    "420-q20": ["-sample", "2x2", "-quality", "20"],
    "grey": ["-grayscale"],
    "grey-optimized-restart": ["-grayscale", "-optimize", "-restart", "2B"],
    "chroma-2x2-luma-1x1": ["-sample", "1x1,2x2,2x2"],  # odd but legal: luma takes the 2x2 IDCT
}
CJPEG_FALLBACK = {
    "progressive": ["-progressive"],
    "arithmetic": ["-arithmetic"],
    "rgb": ["-rgb"],
}
MAGICK = {
    "420": ["-sampling-factor", "2x2", "-quality", "85"],
    "422": ["-sampling-factor", "2x1", "-quality", "85"],
    "444": ["-sampling-factor", "1x1", "-quality", "92"],
    "420-standard-tables": ["-sampling-factor", "2x2", "-define", "jpeg:optimize-coding=false"],
    "grey": ["-colorspace", "Gray", "-quality", "80"],
}
FFMPEG = {
    "420": ["-pix_fmt", "yuvj420p", "-q:v", "3"],
    "422": ["-pix_fmt", "yuvj422p", "-q:v", "3"],
    "444": ["-pix_fmt", "yuvj444p", "-q:v", "2"],
    "420-default-tables": ["-pix_fmt", "yuvj420p", "-huffman", "default", "-q:v", "8"],
}


@pytest.mark.parametrize("kind", ["photo", "busy"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
class TestEncoders:
    @pytest.mark.parametrize("name", list(CJPEG))
    def test_cjpeg(self, tmp_path: Path, name: str, size: tuple[int, int], kind: str) -> None:
        flags = CJPEG[name]
        data = encode(tmp_path, "cjpeg", ["-quality", "90", *flags], size, kind)
        check(data)

    @pytest.mark.parametrize("name", list(MAGICK))
    def test_imagemagick(self, tmp_path: Path, name: str, size: tuple[int, int], kind: str) -> None:
        check(encode(tmp_path, "convert", MAGICK[name], size, kind))

    @pytest.mark.parametrize("name", list(FFMPEG))
    def test_ffmpeg_mjpeg(
        self, tmp_path: Path, name: str, size: tuple[int, int], kind: str
    ) -> None:
        check(encode(tmp_path, "ffmpeg", FFMPEG[name], size, kind))


@pytest.mark.parametrize("name", list(CJPEG_FALLBACK))
def test_cjpeg_encodings_left_to_libjpeg_turbo(tmp_path: Path, name: str) -> None:
    flags = CJPEG_FALLBACK[name]
    check(encode(tmp_path, "cjpeg", flags, (333, 517), "busy"), in_scope=False)


def dicom_jpeg(name: str) -> bytes:
    ds = pydicom.dcmread(PYDICOM_FILES / name)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    return next(iter(generate_frames(ds.PixelData, number_of_frames=frames)))


# Baseline JPEG frames in pydicom's test files, by the encoder that made them; ``False``: RGB
# (Adobe transform 0 or ids R, G, B) or 12-bit, which the decoder leaves to libjpeg-turbo.
DICOM = {
    "SC_rgb_dcmtk_+eb+cy+n1.dcm": True,  # dcmtk, YBR_FULL
    "SC_rgb_dcmtk_+eb+cy+np.dcm": True,  # dcmtk, YBR_FULL_422
    "SC_rgb_dcmtk_+eb+cy+s2.dcm": True,
    "SC_rgb_dcmtk_+eb+cy+s4.dcm": True,
    "SC_rgb_dcmtk_+eb+cr.dcm": False,  # dcmtk, RGB
    "SC_rgb_jpeg_dcmtk.dcm": True,
    "SC_rgb_jpeg_lossy_gdcm.dcm": True,  # GDCM
    "SC_rgb_small_odd_jpeg.dcm": True,  # 3x3
    # Component ids 0, 1, 2 and neither JFIF nor Adobe marker: libjpeg-turbo takes it as YCbCr.
    "SC_jpeg_no_color_transform.dcm": True,
    "SC_jpeg_no_color_transform_2.dcm": False,
    "SC_rgb_jpeg_app14_dcmd.dcm": False,
    "examples_ybr_color.dcm": True,  # an ultrasound device, 4:2:2
    "JPGExtended.dcm": False,  # 12-bit extended
}


@pytest.mark.parametrize("name", list(DICOM))
def test_jpeg_frames_from_dicom_encoders(name: str) -> None:
    check(dicom_jpeg(name), in_scope=DICOM[name])
