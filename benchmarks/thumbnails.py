"""Thumbnail speed: moorage (DC-only JPEG decoding) against the seed's mogrify, in one run.

    uv run python benchmarks/thumbnails.py [--count 50] [--workdir DIR] [--parallel]

Generates ``count`` photo-like 4000x3000 JPEGs (quality 90, ~3 MB each: smooth colour fields,
hard-edged shapes, fine texture and sensor noise; cached in ``workdir``), then for every
image, interleaved so background load hits all three alike (wall and CPU time are both
reported; CPU time, user+sys of the mogrify child or of this process, is the steadier figure on
a shared machine):
  1. the seed's command: ``mogrify -resize "356x200>" -format jpg -quality 50``
  2. tuned mogrify:       ``mogrify -define jpeg:size=712x400 -resize "356x200>" ...``
  3. ``moorage.media.make_thumbnail`` (in process; reads the file, writes the thumbnail file),
  4. the same with its DC-only decoder switched off: libjpeg-turbo decoding at 1/8 scale, the
     path moorage takes for progressive, CMYK and other JPEGs the DC decoder leaves alone.
Prints the median per image, the ratios, a breakdown by file size, output sizes, and each
tool's PSNR against the ideal thumbnail (the same-quality check).
``--parallel`` also times a batch on every core (threads for moorage, one mogrify process per
core) for throughput.

``--boundscheck-cost`` instead times the reduced decoder alone (``thumbnail_from_dc``) with
numba's bounds checks off (``NUMBA_BOUNDSCHECK=0``), as shipped (on, but for the entropy
decoder's loop) and on everywhere (``NUMBA_BOUNDSCHECK=1``), each compiled into its own cache,
in child processes taking turns over ``--rounds`` rounds, and prints the medians.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from moorage.media import images, make_thumbnail

WIDTH, HEIGHT = 4000, 3000
SEED_CMD = ["mogrify", "-resize", "356x200>", "-format", "jpg", "-quality", "50"]
TUNED_CMD = [
    "mogrify",
    "-define",
    "jpeg:size=712x400",
    "-resize",
    "356x200>",
    "-format",
    "jpg",
    "-quality",
    "50",
]


# Texture strength per scene, cycling: from flat, clean scenes (~1 MB at q90) to busy, noisy
# ones (~4 MB). Entropy decoding dominates thumbnailing, so time follows the file size.
DETAIL = (0.25, 0.5, 1.0, 1.5, 2.0)


def scene(seed: int, detail: float) -> Image.Image:
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)
    img = Image.fromarray(colours).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
        w, h = int(rng.integers(80, 1200)), int(rng.integers(80, 900))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x, y, x + w, y + h], fill=fill)
        else:
            draw.rectangle([x, y, x + w, y + h], fill=fill)
    arr = np.asarray(img).astype(np.float32)
    # Texture at a few scales (foliage, fabric) plus sensor noise.
    for size, amp in ((250, 10.0), (1000, 7.0), (WIDTH, 4.0)):
        small = rng.normal(0, amp * detail, (size * HEIGHT // WIDTH, size)).astype(np.float32)
        layer = Image.fromarray(small, "F").resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
        arr += np.asarray(layer)[..., None]
    arr += rng.normal(0, 2.0 * detail, arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def make_images(folder: Path, count: int) -> list[Path]:
    """``count`` images: scene k (detail level k mod 5) saved in up to 5 variants (flips,
    rotation, channel swap) so a 50-image corpus holds 10 scenes, 10 images per detail level."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo_{i:03d}.jpg" for i in range(count)]
    if all(p.exists() for p in paths):
        return paths
    variants = (
        lambda im: im,
        lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        lambda im: im.transpose(Image.Transpose.ROTATE_180),
        lambda im: Image.merge("RGB", im.split()[::-1]),
    )
    scenes = max(1, -(-count // len(variants)))
    for k in range(scenes):
        base = scene(k, DETAIL[k % len(DETAIL)])
        for v, variant in enumerate(variants):
            i = v * scenes + k
            if i < count:
                variant(base).save(paths[i], quality=90)
    return paths


Timing = tuple[float, float]  # (wall, cpu) seconds


def run(cmd: list[str], src: Path, out: Path) -> Timing:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([*cmd, "-path", str(out), str(src)], check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def moorage(src: Path, out: Path, dc_only: bool = True) -> Timing:
    real = images.thumbnail_from_dc
    if not dc_only:  # what make_thumbnail does when the DC decoder declines a file
        images.thumbnail_from_dc = lambda data, size: None
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        data, _, _ = make_thumbnail(src)
        (out / src.name).write_bytes(data)
        return time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        images.thumbnail_from_dc = real


def psnr_to_ideal(original: Path, thumb: Path) -> float:
    """PSNR of a thumbnail against the ideal one: full-resolution decode, box filter, lossless."""
    y = np.asarray(Image.open(thumb).convert("RGB"), dtype=np.float64)
    ideal = Image.open(original).resize((y.shape[1], y.shape[0]), Image.Resampling.BOX)
    x = np.asarray(ideal, dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255**2 / mse))


def batch(paths: list[Path], out: Path, workers: int, tool: str) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        if tool == "moorage":
            list(pool.map(lambda p: moorage(p, out), paths))
        else:
            cmd = SEED_CMD if tool == "seed" else TUNED_CMD
            list(pool.map(lambda p: run(cmd, p, out), paths))
    return (time.perf_counter() - start) / len(paths)


_BOUNDSCHECK_CHILD = """
import statistics, sys, time
from pathlib import Path
from moorage.media.jpeg_dc import thumbnail_from_dc
datas = [Path(p).read_bytes() for p in sys.argv[1:]]
for data in datas[:2]:
    thumbnail_from_dc(data, (267, 200))  # compile or load the cache outside the timings
cpu, wall = [], []
for data in datas:
    t, c = time.perf_counter(), time.process_time()
    assert thumbnail_from_dc(data, (267, 200)) is not None
    wall.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
print(statistics.median(cpu), statistics.median(wall))
"""


def boundscheck_cost(paths: list[Path], workdir: Path, rounds: int) -> None:
    """Median ms an image with bounds checks off, as shipped (on but for the entropy decoder's
    loop) and on everywhere, the variants taking turns."""
    variants = {"off": "0", "shipped": None, "on": "1"}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, flag in variants.items():
            env = dict(os.environ, NUMBA_CACHE_DIR=str(workdir / f"numba-boundscheck-{name}"))
            env.pop("NUMBA_BOUNDSCHECK", None)
            if flag is not None:
                env["NUMBA_BOUNDSCHECK"] = flag
            out = subprocess.run(
                [sys.executable, "-c", _BOUNDSCHECK_CHILD, *map(str, paths)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            results[name].append((float(out[0]), float(out[1])))
    print(f"\nreduced decoder alone (thumbnail_from_dc), {rounds} rounds x {len(paths)} images")
    med = {}
    for name in variants:
        cpu = statistics.median(r[0] for r in results[name]) * 1000
        wall = statistics.median(r[1] for r in results[name]) * 1000
        med[name] = cpu
        each = " ".join(f"{r[0] * 1000:.1f}" for r in results[name])
        print(f"  boundscheck {name:<8} cpu {cpu:6.2f} ms  wall {wall:6.2f} ms   (rounds: {each})")
    for name in ("shipped", "on"):
        print(f"  cost, {name}: {(med[name] / med['off'] - 1) * 100:+.1f}% cpu")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "moorage-bench"
    )
    parser.add_argument("--parallel", action="store_true")
    parser.add_argument("--boundscheck-cost", action="store_true")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if shutil.which("mogrify") is None:
        print("mogrify not found: install imagemagick (scripts/system-deps.sh)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    paths = make_images(args.workdir / "photos", args.count)
    sizes = [p.stat().st_size for p in paths]
    print(
        f"{len(paths)} JPEGs {WIDTH}x{HEIGHT} q90, median {statistics.median(sizes) / 1e6:.2f} MB"
        f" (ready in {time.perf_counter() - t0:.1f} s)"
    )
    if args.boundscheck_cost:
        boundscheck_cost(paths, args.workdir, args.rounds)
        return 0
    names = ("seed", "tuned", "libjpeg", "moorage")
    outs = {name: args.workdir / f"out_{name}" for name in names}
    for out in outs.values():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
    make_thumbnail(paths[0])  # import and warm-up outside the timings
    times: dict[str, list[Timing]] = {name: [] for name in names}
    for path in paths:
        times["seed"].append(run(SEED_CMD, path, outs["seed"]))
        times["tuned"].append(run(TUNED_CMD, path, outs["tuned"]))
        times["libjpeg"].append(moorage(path, outs["libjpeg"], dc_only=False))
        times["moorage"].append(moorage(path, outs["moorage"]))
    wall = {n: statistics.median(t[0] for t in times[n]) for n in names}
    cpu = {n: statistics.median(t[1] for t in times[n]) for n in names}
    print("\nper image, one at a time (median over images)            wall ms    cpu ms")
    for name, label in (
        ("seed", 'mogrify -resize "356x200>" -quality 50 (seed)'),
        ("tuned", "mogrify -define jpeg:size=712x400 ... (tuned)"),
        ("libjpeg", "moorage, fallback path (libjpeg-turbo 1/8 decode)"),
        ("moorage", "moorage make_thumbnail (reduced decode, numba)"),
    ):
        print(f"  {label:<54} {wall[name] * 1000:8.1f}  {cpu[name] * 1000:8.1f}")
    for ref, bar in (("seed", 10.0), ("tuned", 2.5)):
        w, c = wall[ref] / wall["moorage"], cpu[ref] / cpu["moorage"]
        verdict = "ok" if w >= bar else "MISSED"
        print(f"  {ref}/moorage: wall {w:5.1f}x  cpu {c:5.1f}x   bar >= {bar}x: {verdict}")
    gain = cpu["libjpeg"] / cpu["moorage"]
    print(f"  libjpeg/moorage: cpu {gain:5.2f}x (the reduced decoder's own gain)")
    print(
        f"  tuned/libjpeg: cpu {cpu['tuned'] / cpu['libjpeg']:5.2f}x (moorage on its fallback path)"
    )

    print(
        "\nby detail level (file size drives entropy decoding)   cpu ms: seed  tuned libjpeg moorage"
    )
    for level, detail in enumerate(DETAIL):
        idx = [i for i in range(len(paths)) if (i % -(-len(paths) // 5)) % len(DETAIL) == level]
        if not idx:
            continue
        mb = statistics.median(sizes[i] for i in idx) / 1e6
        c = {n: statistics.median(times[n][i][1] for i in idx) * 1000 for n in names}
        print(
            f"  detail {detail:<4} {mb:4.1f} MB  n={len(idx):<3}"
            f"{c['seed']:25.1f} {c['tuned']:6.1f} {c['libjpeg']:7.1f} {c['moorage']:7.1f}"
            f"   tuned/moorage {c['tuned'] / c['moorage']:.2f}x"
        )

    print("\noutput quality: PSNR against the ideal thumbnail (box filter, full decode)")
    for name in names:
        files = sorted(outs[name].iterdir())
        dims = sorted({Image.open(f).size for f in files})
        kb = statistics.median(f.stat().st_size for f in files) / 1024
        sample = files[:: max(1, len(files) // 10)]
        score = statistics.median(
            psnr_to_ideal(args.workdir / "photos" / f.name, f) for f in sample
        )
        print(f"  {name:<8} sizes {dims}, median {kb:.1f} KB, PSNR {score:.2f} dB")

    if args.parallel:
        workers = os.cpu_count() or 2
        print(f"\nthroughput, {workers} at a time (wall time / images)")
        for name in ("seed", "tuned", "moorage"):
            shutil.rmtree(outs[name])
            outs[name].mkdir()
            print(f"  {name:<8} {batch(paths, outs[name], workers, name) * 1000:8.1f} ms/image")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
