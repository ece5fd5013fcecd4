"""Coverage-guided fuzzing of the reduced JPEG decoder (moorage.media.jpeg_dc) with atheris.

    nice -n 15 uv run python benchmarks/fuzz_jpeg.py --seconds 1800 --mode python
    nice -n 15 uv run python benchmarks/fuzz_jpeg.py --seconds 1800 --mode compiled

``--mode python`` runs the numba kernels as Python (their ``py_func``: the JIT off for them, as
``NUMBA_DISABLE_JIT=1`` would, but the lookup-table builders kept compiled), instrumented, so
libFuzzer's coverage sees every branch of the entropy decoder; ``--mode compiled`` runs them
compiled with ``NUMBA_BOUNDSCHECK=1`` (bounds checks in every kernel, ``decode_reduced``
included), where coverage sees only the header parser and the Python around the kernels, over
the corpus the Python mode grew. Both share ``--workdir``: ``seeds/`` (small JPEGs from Pillow,
ImageMagick, ffmpeg's mjpeg and cjpeg, made on the first run), ``corpus/`` (libFuzzer's),
``findings/`` (every input that failed, one file per distinct failure with its traceback, and
libFuzzer's timeout/crash artifacts). The executions printed add up every run of the mode
logged in that folder.

A finding is any exception other than the decoder's fallback signal (``Unsupported`` or
``None``), an image whose planes do not cover the size its header gives, a thumbnail of the
wrong size, luma other than libjpeg-turbo's 1/8-scale decode of the same bytes (simplejpeg,
when it decodes them without complaint), or a hang (``-timeout``). Findings are recorded and
the run goes on; libFuzzer restarts after a hang until ``--seconds`` have passed. Prints
executions, coverage and findings.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg  # type: ignore[import-untyped]
from PIL import Image

MAX_LEN = 12_000
SIZES = ((16, 16), (37, 29), (64, 48), (100, 75), (8, 120))


def picture(width: int, height: int, seed: int) -> Image.Image:
    """Gradients, an edge and noise: small, but every kind of block."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    arr = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x ^ y) & 255], -1)
    arr = arr.astype(np.int16) + rng.normal(0, 12, arr.shape).astype(np.int16)
    arr[: height // 2, : width // 3] = (250, 20, 20)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def make_seeds(folder: Path) -> None:
    """Small JPEGs in the shapes the decoder takes, from every encoder found on the machine."""
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp())
    for n, (w, h) in enumerate(SIZES):
        img = picture(w, h, n)
        png, ppm = scratch / "in.png", scratch / "in.ppm"
        img.save(png)
        img.save(ppm)
        for i, params in enumerate(
            (
                {"subsampling": "4:2:0"},
                {"subsampling": "4:4:4", "optimize": True},
                {"subsampling": "4:2:2", "restart_marker_blocks": 3},
                {"subsampling": "4:1:1", "restart_marker_rows": 1},
                {"subsampling": "4:2:0", "progressive": True},
            )
        ):
            img.save(folder / f"pillow-{n}-{i}.jpg", "JPEG", quality=60 + 8 * i, **params)
        img.convert("L").save(folder / f"pillow-{n}-grey.jpg", "JPEG", quality=75)
        tools: list[list[str]] = []
        if shutil.which("cjpeg"):
            for i, flags in enumerate(
                (
                    ["-sample", "2x2", "-restart", "1"],
                    ["-sample", "1x1", "-optimize"],
                    ["-sample", "2x1", "-restart", "2B"],
                    ["-grayscale", "-optimize", "-restart", "1B"],
                    ["-sample", "2x2,1x1,1x1", "-arithmetic"],
                )
            ):
                tools.append(
                    ["cjpeg", "-quality", "70", *flags, "-outfile", f"cjpeg-{n}-{i}.jpg", str(ppm)]
                )
        if shutil.which("convert"):
            for i, flags in enumerate((["-sampling-factor", "2x2"], ["-sampling-factor", "1x1"])):
                tools.append(["convert", str(png), *flags, "-quality", "80", f"magick-{n}-{i}.jpg"])
        if shutil.which("ffmpeg"):
            for pix in ("yuvj420p", "yuvj422p", "yuvj444p"):
                tools.append(
                    ["ffmpeg", "-v", "error", "-y", "-i", str(png), "-c:v", "mjpeg", "-pix_fmt", pix,
                     "-q:v", "4", f"ffmpeg-{n}-{pix}.jpg"]
                )  # fmt: skip
        for cmd in tools:
            subprocess.run(cmd, cwd=folder, check=True)
    shutil.rmtree(scratch)


def check(data: bytes) -> None:
    """One input through the decoder; raises AssertionError for a wrong-size result."""
    from moorage.media.jpeg_dc import Unsupported, decode_dc_strict, eighth_size

    try:
        image = decode_dc_strict(data)
    except Unsupported:
        return
    if image is None:
        return
    hmax = max(s[0] for s in image.sampling)
    vmax = max(s[1] for s in image.sampling)
    for plane, (h, v) in zip(image.planes, image.sampling, strict=True):
        rows = -(-image.height * v // (8 * vmax))
        cols = -(-image.width * h // (8 * hmax))
        assert plane.shape[0] >= rows and plane.shape[1] >= cols, "plane smaller than the image"
    full = eighth_size(image.width, image.height)
    size = (min(full[0], 24), min(full[1], 24))
    thumb = image.resize(size)
    assert thumb.size == size and thumb.mode in ("L", "RGB"), "wrong thumbnail"
    if min(image.width, image.height) >= 8:  # below, simplejpeg cannot ask for 1/8 scale
        try:
            ref = simplejpeg.decode_jpeg(
                data, colorspace="GRAY", min_width=full[0], min_height=full[1]
            )
        except ValueError:  # libjpeg-turbo objects to a stream this decoder took
            return
        assert np.array_equal(image.plane(0), ref[..., 0]), "luma differs from libjpeg-turbo"


def record(findings: Path, data: bytes, exc: BaseException) -> None:
    """Keep one input per distinct failure (exception type and innermost frame)."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{tb[-1].filename}:{tb[-1].lineno}" if tb else "?"
    key = hashlib.blake2s(f"{type(exc).__name__}@{where}".encode()).hexdigest()[:10]
    path = findings / f"finding-{key}.jpg"
    if path.exists():
        return
    path.write_bytes(data)
    text = "".join(traceback.format_exception(exc))
    path.with_suffix(".txt").write_text(text)
    print(f"\nFINDING {path.name}: {type(exc).__name__} at {where}", file=sys.stderr, flush=True)


def instrument(module: Any, as_python: bool) -> None:
    """Instrument a module's functions and methods for coverage, in place; with ``as_python``,
    its numba functions too, which then run as the Python they are written in.

    The JIT is off for the kernels only: the Huffman lookup tables (``_jpeg_tables``) stay
    compiled, since building one in Python takes about a second and would leave the fuzzer a
    few executions a second. Their inputs (the DHT segments) are fuzzed all the same.
    """
    import atheris
    from numba.core.registry import CPUDispatcher

    for name, value in list(vars(module).items()):
        if isinstance(value, CPUDispatcher):
            if as_python and value.py_func.__module__ == module.__name__:
                setattr(module, name, atheris.instrument_func(value.py_func))
            elif as_python:  # imported from _jpeg_tables: its plain Python, uninstrumented
                setattr(module, name, value.py_func)
        elif inspect.isfunction(value) and value.__module__ == module.__name__:
            atheris.instrument_func(value)
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            for member in vars(value).values():
                if inspect.isfunction(member):
                    atheris.instrument_func(member)


def child(args: argparse.Namespace, remaining: int) -> None:
    import atheris  # type: ignore[import-not-found]

    from moorage.media import _jpeg_header, _jpeg_kernels, jpeg_dc

    for module in (jpeg_dc, _jpeg_header):
        instrument(module, as_python=False)
    if args.mode == "python":
        instrument(_jpeg_kernels, as_python=True)

    findings = args.workdir / "findings"

    def one(data: bytes) -> None:
        try:
            check(data)
        except Exception as exc:  # every other exception is a finding
            record(findings, data, exc)

    corpus, seeds = args.workdir / "corpus", args.workdir / "seeds"
    for seed in sorted(seeds.iterdir()):  # compile every kernel before libFuzzer's clock starts
        one(seed.read_bytes())
    atheris.Setup(
        [
            sys.argv[0],
            str(corpus),
            str(seeds),
            f"-max_total_time={remaining}",
            f"-timeout={args.timeout}",
            f"-max_len={MAX_LEN}",
            "-rss_limit_mb=3000",
            "-print_final_stats=1",
            f"-artifact_prefix={findings}/",
        ],
        one,
    )
    atheris.Fuzz()


def parent(args: argparse.Namespace) -> int:
    for name in ("corpus", "findings"):
        (args.workdir / name).mkdir(parents=True, exist_ok=True)
    if not (args.workdir / "seeds").exists():
        make_seeds(args.workdir / "seeds")
    env = dict(os.environ)
    if args.mode == "compiled":  # as shipped: bounds checks on, compiled afresh
        env["NUMBA_BOUNDSCHECK"] = "1"
        env["NUMBA_CACHE_DIR"] = str(args.workdir / "numba-cache")
    log = args.workdir / f"fuzz-{args.mode}.log"
    deadline = time.monotonic() + args.seconds
    execs, runs, last = 0, 0, ""
    with log.open("a") as out:
        while (remaining := int(deadline - time.monotonic())) > 5:
            runs += 1
            cmd = [sys.executable, __file__, "--child", "--mode", args.mode]
            cmd += ["--workdir", str(args.workdir), "--timeout", str(args.timeout)]
            cmd += ["--seconds", str(remaining)]
            proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
            text = log.read_text(errors="replace")
            found = re.findall(r"stat::number_of_executed_units: (\d+)", text)
            execs = sum(int(n) for n in found)
            last = (re.findall(r"#\d+\s+\w+\s+cov: \d+ ft: \d+ corp: \S+", text) or [""])[-1]
            if proc.returncode != 0:
                print(f"libFuzzer exited with {proc.returncode} (hang or crash): restarting")
    findings = sorted(p.name for p in (args.workdir / "findings").iterdir())
    print(f"mode {args.mode}: {args.seconds} s, {runs} libFuzzer run(s), {execs} executions")
    print(f"  last status: {last}")
    print(f"  corpus: {len(list((args.workdir / 'corpus').iterdir()))} inputs")
    print(f"  findings: {len(findings)} {findings}")
    return 1 if findings else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=1800, help="total fuzzing time")
    parser.add_argument("--mode", choices=("python", "compiled"), default="python")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "moorage-fuzz-jpeg"
    )
    parser.add_argument("--timeout", type=int, default=20, help="seconds an input may take")
    parser.add_argument("--seeds-only", action="store_true", help="make the seeds and stop")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args: Any = parser.parse_args(argv)
    if args.seeds_only:
        make_seeds(args.workdir / "seeds")
        return 0
    if args.child:
        child(args, args.seconds)
        return 0
    return parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
