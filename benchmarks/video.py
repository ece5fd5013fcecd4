"""Video frames: moorage (PyAV, one decode pass) against the ffmpeg CLI, in the same run.

    uv run python benchmarks/video.py [--contents mandelbrot,testsrc2] [--repeat 2]
                                      [--long-minutes 10] [--workdir DIR]

1. Generates 30 s 1080p30 H.264 clips with the ffmpeg CLI (cached in ``workdir``):
   ``mandelbrot`` (a zoom: fine detail everywhere, ~250 KB hq frames, camera-like) and
   ``testsrc2`` (flat synthetic pattern, ~110 KB frames).
2. For each clip, ``repeat`` times, interleaved:
   - the reference: ffmpeg CLI with one split filter writing hq (full size, ``-q:v 2``) and lq
     (``scale=-2:720``, ``-q:v 5``) JPEGs for every frame;
   - moorage: ``process_slot("video", fps=None)`` into a ``DirectorySink`` in a child
     process: hq (JPEG q90), lq (720p, q75), thumbnail and frames manifest;
   - moorage with HLS: the same plus both HLS renditions (``streaming=True``, as the worker
     runs it: hq stream-copied from the H.264 source, lq encoded at 720p by libx264).
   Prints wall times, the ratios (bars: moorage <= ffmpeg, and moorage with HLS <= ffmpeg
   writing only the hq and lq frames), output sizes, PSNR of a few hq frames against the
   decoded source for both tools, and moorage's peak RSS.
3. Memory: a ``long-minutes`` clip, by default at 640x360 to keep the run short
   (``--long-size 1920x1080`` for the full check): memory per frame in flight is what grows
   with resolution, and the 1080p runs above report their own peak; prints moorage's peak
   RSS (VmHWM of the child; bar: < 500 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

SOURCES = {
    "mandelbrot": "mandelbrot=size={w}x{h}:rate=30",
    "testsrc2": "testsrc2=size={w}x{h}:rate=30",
}

CHILD = """
import json, sys, time
from pathlib import Path
from moorage.media import DirectorySink, process_slot
start = time.perf_counter()
result = process_slot("video", [Path(sys.argv[1])], sink=DirectorySink(Path(sys.argv[2])),
                      streaming=sys.argv[3] == "hls")
seconds = time.perf_counter() - start
# VmHWM: this process's peak RSS. ru_maxrss would also count the parent's pages copied by fork.
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(json.dumps({"seconds": seconds, "sections": result.total_sections, "peak_mb": int(hwm) / 1024,
                  "width": result.width, "height": result.height}))
"""


def make_clip(path: Path, source: str, seconds: int, size: tuple[int, int]) -> Path:
    if path.exists():
        return path
    spec = SOURCES[source].format(w=size[0], h=size[1])
    tmp = path.with_suffix(".part.mp4")
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{spec},trim=duration={seconds}"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(tmp)]
    subprocess.run(cmd, check=True)
    tmp.rename(path)
    return path


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def wait(proc: subprocess.Popen[str]) -> tuple[float, float]:
    """Wait for a child: (cpu seconds user+sys, peak RSS MB)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{proc.args!r} failed with {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def run_ffmpeg(clip: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, cpu seconds)."""
    (out / "hq").mkdir()
    (out / "lq").mkdir()
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-fps_mode", "passthrough"]
    cmd += ["-filter_complex", "[0:v]split=2[h][l];[l]scale=-2:720[lo]"]
    cmd += ["-map", "[h]", "-q:v", "2", "-start_number", "1", str(out / "hq" / "%09d.jpg")]
    cmd += ["-map", "[lo]", "-q:v", "5", "-start_number", "1", str(out / "lq" / "%09d.jpg")]
    start = time.perf_counter()
    cpu, _ = wait(subprocess.Popen(cmd, text=True))
    return time.perf_counter() - start, cpu


def run_moorage(
    clip: Path, out: Path, *, hls: bool = False
) -> tuple[float, float, float, dict[str, float]]:
    """(wall seconds, cpu seconds, peak RSS MB, the child's report)."""
    start = time.perf_counter()
    mode = "hls" if hls else "frames"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(clip), str(out), mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    report = proc.stdout.read()
    cpu, _ = wait(proc)
    data = json.loads(report)
    return time.perf_counter() - start, cpu, float(data["peak_mb"]), data


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir()) / 1e6


def psnr_against_source(clip: Path, hq_dir: Path, frames: list[int]) -> float:
    wanted = set(frames)
    scores = []
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for n, frame in enumerate(container.decode(stream)):
            if n in wanted:
                ref = frame.to_ndarray(format="rgb24").astype(np.float64)
                got = np.asarray(Image.open(hq_dir / f"{n + 1:09d}.jpg").convert("RGB"), float)
                scores.append(10 * np.log10(255**2 / np.mean((ref - got) ** 2)))
            if n >= max(wanted):
                break
    return float(statistics.median(scores))


def bench_clip(name: str, clip: Path, work: Path, repeat: int) -> None:
    print(f"\n{name}: {clip.name} ({clip.stat().st_size / 1e6:.0f} MB)")
    ff_times, mo_times, ff_cpu, mo_cpu, mo_inner, rss = [], [], [], [], [], []
    hls_times: list[float] = []
    hls_cpu: list[float] = []
    for _ in range(repeat):
        ff_wall, cpu = run_ffmpeg(clip, fresh(work / "ffmpeg"))
        ff_times.append(ff_wall)
        ff_cpu.append(cpu)
        wall, cpu, peak, report = run_moorage(clip, fresh(work / "moorage"))
        mo_times.append(wall)
        mo_cpu.append(cpu)
        mo_inner.append(report["seconds"])
        rss.append(peak)
        wall, cpu, peak, _ = run_moorage(clip, fresh(work / "moorage-hls"), hls=True)
        hls_times.append(wall)
        hls_cpu.append(cpu)
        rss.append(peak)
    ff, mo = statistics.median(ff_times), statistics.median(mo_times)
    runs = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(ff_times, mo_times, strict=True))
    inner = statistics.median(mo_inner)
    print(
        f"  ffmpeg CLI split, hq+lq       {ff:6.2f} s wall, {statistics.median(ff_cpu):6.2f} s cpu"
    )
    print(
        f"  moorage hq+lq+thumb+manifest  {mo:6.2f} s wall, {statistics.median(mo_cpu):6.2f} s cpu"
        f"  (process_slot alone {inner:.2f} s)"
    )
    verdict = "ok" if mo <= ff else "MISSED"
    print(
        f"  ratio ffmpeg/moorage {ff / mo:.2f}x wall (bar >= 1.0: {verdict});"
        f" cpu {statistics.median(ff_cpu) / statistics.median(mo_cpu):.2f}x; runs {runs}"
    )
    hl = statistics.median(hls_times)
    print(
        f"  moorage + HLS renditions      {hl:6.2f} s wall, {statistics.median(hls_cpu):6.2f} s cpu"
    )
    verdict = "ok" if hl <= ff else "MISSED"
    hls_runs = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(ff_times, hls_times, strict=True))
    print(
        f"  ratio ffmpeg/moorage+HLS {ff / hl:.2f}x wall (bar >= 1.0: {verdict}); HLS costs"
        f" {hl - mo:+.2f} s over frames alone; runs {hls_runs}"
    )
    segments = work / "moorage-hls" / "segments"
    for quality in ("high", "low"):
        files = sorted((segments / quality).glob("*.ts"))
        size = sum(f.stat().st_size for f in files) / 1e6
        print(f"  HLS {quality}: {len(files)} segments, {size:.1f} MB")
    print(f"  moorage peak RSS {max(rss):.0f} MB, {report['sections']} sections")
    for tool, out in (("ffmpeg", work / "ffmpeg"), ("moorage", work / "moorage" / "sections")):
        hq, lq = (
            out / "hq" if tool == "ffmpeg" else out / "high",
            out / "lq" if tool == "ffmpeg" else out / "low",
        )
        lq_size = Image.open(next(iter(sorted(lq.iterdir())))).size
        score = psnr_against_source(clip, hq, [0, 150, 450, 899])
        print(
            f"  {tool:<8} hq {folder_mb(hq):6.0f} MB, lq {folder_mb(lq):5.0f} MB at {lq_size},"
            f" hq PSNR vs source {score:.1f} dB"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contents", default="mandelbrot,testsrc2")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--long-minutes", type=float, default=10.0)
    parser.add_argument("--long-size", default="640x360", help="WxH of the long clip")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "moorage-bench"
    )
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        print("ffmpeg not found: install it (scripts/system-deps.sh)", file=sys.stderr)
        return 2
    work = args.workdir / "video"
    work.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} CPUs; PyAV {av.__version__}")
    for name in filter(None, args.contents.split(",")):
        t0 = time.perf_counter()
        clip = make_clip(work / f"{name}_1080p30_30s.mp4", name, 30, (1920, 1080))
        print(f"(clip ready in {time.perf_counter() - t0:.0f} s)")
        bench_clip(name, clip, work, args.repeat)
    if args.long_minutes > 0:
        seconds = round(args.long_minutes * 60)
        w, h = (int(v) for v in args.long_size.split("x"))
        long_clip = make_clip(work / f"testsrc2_{h}p30_{seconds}s.mp4", "testsrc2", seconds, (w, h))
        out = fresh(work / "long")
        wall, _, peak, report = run_moorage(long_clip, out)
        verdict = "ok" if peak < 500 else "MISSED"
        print(
            f"\nlong clip {args.long_minutes:g} min {w}x{h} 30 fps: {report['sections']} sections"
            f" in {wall:.0f} s, peak RSS {peak:.0f} MB (bar < 500 MB: {verdict})"
        )
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
