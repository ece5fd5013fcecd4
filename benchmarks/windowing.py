"""Window/level: per-slice server CPU of the raw values (the viewer's path) against a
server-windowed PNG, alternated in one process, and the browser's redraw of a 512x512 slice
with the viewer's own ``windowing.js`` in Debian's Chromium (decision 0037).

    uv run python benchmarks/windowing.py [--runs 15]
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from playwright.sync_api import sync_playwright
from pydicom.data import get_testdata_file

from moorage.media.windowing import dicom_values, encode_values, window_png

STATIC = Path(__file__).resolve().parents[1] / "src" / "moorage" / "web" / "static"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
REDRAW = """() => {
  const w = 512, h = 512, v = new Int16Array(w * h);
  for (let i = 0; i < v.length; i++) v[i] = (i * 7919) % 3000 - 1000;
  const s = { values: v, width: w, height: h, invert: false };
  const canvas = document.createElement('canvas'); document.body.append(canvas);
  const times = [];
  for (let r = 0; r < 31; r++) {
    const t = performance.now(); window.moorageWindowing.draw(canvas, s, 40 + r, 400);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b); return times[15];
}"""


def ct_512(folder: Path) -> Path:
    """pydicom's CT slice at 4x its size (128 -> 512), with some noise: a CT-sized slice."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    big = np.kron(ds.pixel_array, np.ones((4, 4), dtype=ds.pixel_array.dtype))
    big = (big + np.random.default_rng(0).integers(0, 40, big.shape)).astype(big.dtype)
    ds.Rows, ds.Columns = big.shape
    ds.PixelData = big.tobytes()
    path = folder / "ct512.dcm"
    ds.save_as(path)
    return path


def server_side(path: Path, runs: int) -> None:
    def raw() -> int:
        body, _ = encode_values(dicom_values(path, 0).values)
        return len(gzip.compress(body, compresslevel=1))

    def png() -> int:
        return len(window_png(dicom_values(path, 0), 40, 400))

    ways: dict[str, Callable[[], int]] = {"values (int16, gzip 1)": raw, "windowed PNG": png}
    times: dict[str, list[float]] = {name: [] for name in ways}
    sizes: dict[str, int] = {}
    for _ in range(runs):
        for name, way in ways.items():
            start = time.process_time()
            sizes[name] = way()
            times[name].append(time.process_time() - start)
    for name in ways:
        median = 1000 * statistics.median(times[name])
        print(f"{name:24} {median:6.1f} ms CPU a slice, {sizes[name]:,} bytes")


def browser_redraw() -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.set_content("<html><body></body></html>")
        page.add_script_tag(path=str(STATIC / "windowing.js"))
        print(f"{'browser redraw 512x512':24} {page.evaluate(REDRAW):6.2f} ms (median of 31)")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print("load average:", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        server_side(ct_512(Path(tmp)), args.runs)
    browser_redraw()


if __name__ == "__main__":
    main()
