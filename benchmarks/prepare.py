"""``moorage prepare`` against the seed's mogrify loop, in one run (issue 10's bar: 10x).

    uv run python benchmarks/prepare.py [--count 200] [--workdir DIR] [--jobs N]

Generates ``count`` photo-like 4000x3000 JPEGs (``thumbnails.py``'s corpus, cached in
``workdir``), then times, on the same files:
  1. the seed's shell loop, one file at a time:
     ``for f in photos/*.jpg; do mogrify -resize "356x200>" -format jpg -quality 50 -path OUT "$f"; done``
  2. ``moorage prepare photos --out OUT --quiet --jobs N`` as a real process (every core by
     default; start-up, the fork server and the payload included),
  3. the same command again, every file already present (the resume path).
Prints each wall time, files/s, and the ratio mogrify / prepare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from thumbnails import make_images

BAR = 10.0


def mogrify_loop(photos: Path, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    script = (
        'for f in "$1"/*.jpg; do mogrify -resize "356x200>" -format jpg -quality 50 '
        '-path "$2" "$f"; done'
    )
    started = time.perf_counter()
    subprocess.run(["sh", "-c", script, "sh", str(photos), str(out)], check=True)
    return time.perf_counter() - started


def prepare(photos: Path, out: Path, jobs: int) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "moorage.cli", "prepare", str(photos), "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(
        [*cmd, "--quiet", "--jobs", str(jobs)], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, done.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "moorage-bench"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    photos = args.workdir / f"prepare-{args.count}"
    paths = make_images(photos, args.count)
    print(f"{len(paths)} JPEGs of 4000x3000 in {photos}, {args.jobs} job(s)")
    with tempfile.TemporaryDirectory(prefix="moorage-prepare-bench-") as tmp:
        reference = mogrify_loop(photos, Path(tmp) / "mogrify")
        out = Path(tmp) / "prepare"
        made, summary = prepare(photos, out, args.jobs)
        again, summary_again = prepare(photos, out, args.jobs)
        shutil.rmtree(out)
    n = len(paths)
    print(f"seed mogrify loop:     {reference:7.1f} s  {n / reference:7.1f} files/s")
    print(f"moorage prepare:       {made:7.1f} s  {n / made:7.1f} files/s   ({summary})")
    print(f"again, all present:    {again:7.1f} s  {n / again:7.1f} files/s   ({summary_again})")
    ratio = reference / made
    verdict = "meets" if ratio >= BAR else "misses"
    print(f"ratio mogrify / prepare: {ratio:.1f}x ({verdict} the {BAR:.0f}x bar)")


if __name__ == "__main__":
    main()
