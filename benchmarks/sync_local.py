"""Sync of 1,000,000 local files into an empty dataset, then a re-sync of 100,000 after changes.

    uv run python benchmarks/sync_local.py [--files 1000000] [--resync-files N] [--changes N]
        [--workers 2] [--threads 1] [--workdir .bench/sync_local] [--only generate|first|resync]
        [--no-drain]

Bars (issue 10):

1. ``--files`` tiny real PNGs (one Pillow-made PNG hard-linked: every file is a real image,
   1,000 to a folder) synced from a read-write ``local`` storage into an empty dataset by
   ``moorage serve`` on PostgreSQL with a Redis broker and ``--workers`` ``moorage worker``
   processes: at most 2 minutes from the POST to ``complete``, and the peak RSS (``VmHWM`` of
   each process and its children, sampled every 0.5 s and at the end) of the server and of each
   worker under 1 GB. The file tree is kept in ``--workdir`` between runs (``.big.count`` marks it).
2. A fresh moorage and a fresh tree of ``--resync-files`` (default ``--files / 10``): a first
   sync, the processing it leaves behind drained (``--no-drain`` skips that), then ``--changes``
   (default 1% of them) new files, as many overwritten with another PNG (new bytes, size and
   mtime: a new etag) and as many deleted; the re-sync must take under 5 s and report exactly
   ``registered`` = ``changed`` = ``missing`` = changes, ``unchanged`` = the rest, and register
   nothing twice (items inserted by the re-sync, counted in the database by ``seq``, = changes).

Processing (thumbnails) goes on behind a sync and is not counted. Prints each figure with its
bar and exits 1 when one does not hold; with fewer files than the bars are set at (1,000,000 and
100,000) the time bars are not judged, only projected linearly. Run it under ``nice -n 10`` on a
shared machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synckit import Moorage, PeakRss, cpu_seconds, exit_on_sigterm, png_bytes

ROOT = Path(__file__).resolve().parent.parent
PER_FOLDER = 1000
LINKS_PER_SOURCE = 50_000  # ext4 allows 65,000 links to one inode
FIRST_BAR_S, RESYNC_BAR_S, RSS_BAR_MB = 120.0, 5.0, 1024.0
#: the sizes the time bars are set at; a scaled-down run prints its rate projected to them
FIRST_FILES, RESYNC_FILES = 1_000_000, 100_000


def key(i: int) -> str:
    return f"d{i // PER_FOLDER:04d}/{i:07d}.png"


def _aside(folder: Path, what: str) -> Path:
    """A file beside the tree, outside the synced prefix (the link source, the count marker)."""
    return folder.parent / f".{folder.name}.{what}"


def make_tree(folder: Path, count: int, *, cached: bool) -> float:
    """``count`` hard links of one tiny PNG under ``folder``; seconds taken (0 when cached)."""
    marker = _aside(folder, "count")
    if cached and marker.exists() and marker.read_text() == str(count):
        return 0.0
    start = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    data = png_bytes(0)
    for i in range(count):
        path = folder / key(i)
        if i % PER_FOLDER == 0:
            path.parent.mkdir()
        source = _aside(folder, f"{i // LINKS_PER_SOURCE}.png")
        if i % LINKS_PER_SOURCE == 0:
            source.write_bytes(data)
        os.link(source, path)
    marker.write_text(str(count))
    return time.perf_counter() - start


def change_tree(folder: Path, count: int, changes: int) -> dict[str, list[str]]:
    """``changes`` new, overwritten and deleted keys, spread over the tree."""
    step = max(1, count // (2 * changes))
    picked = list(range(0, count, step))[: 2 * changes]
    overwritten, deleted = picked[0::2], picked[1::2]
    for n, i in enumerate(overwritten):
        path = folder / key(i)
        path.unlink()  # a new inode: the other links keep the old bytes
        path.write_bytes(png_bytes(n + 1))
    for i in deleted:
        (folder / key(i)).unlink()
    new = [f"{key(i).split('/')[0]}/new{n:06d}.png" for n, i in enumerate(overwritten)]
    source = _aside(folder, "0.png")
    for k in new:
        os.link(source, folder / k)
    return {
        "new": new,
        "overwritten": [key(i) for i in overwritten],
        "deleted": [key(i) for i in deleted],
    }


def check(name: str, ok: bool, failures: list[str]) -> str:
    if not ok:
        failures.append(name)
    return "holds" if ok else "does NOT hold"


def time_bar(
    name: str, secs: float, ok: bool, files: int, at: int, bar: float, failures: list[str]
) -> str:
    """The time bar, judged at the size it is set for; a smaller run only projects to it."""
    if files >= at:
        return f"{name} bar {bar:.0f} s at {at:,} files: {check(name, ok and secs < bar, failures)}"
    check(name, ok, failures)
    return (
        f"{name} bar {bar:.0f} s is set at {at:,} files: not judged at {files:,}; this rate "
        f"projects to {secs * at / files:.1f} s there"
    )


def first_sync(args: argparse.Namespace, files: Path, failures: list[str]) -> None:
    print(f"-- 1. sync of {args.files:,} local files into an empty dataset")
    with Moorage(backend="postgresql", workers=args.workers, threads=args.threads) as m:
        dataset = m.dataset("million")
        storage = m.local_storage(files)
        pids = {name: proc.pid for name, proc in m.processes().items()}
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        with PeakRss(pids) as rss:
            secs, sync = m.sync(dataset, storage, "big/", timeout=3600)
        used = ", ".join(f"{n} {cpu_seconds(p) - cpu[n]:.1f}" for n, p in pids.items())
        counts = sync["counts"]
        print(f"state {sync['state']}, counts {counts}, error {sync.get('error')}")
        rate = counts["registered"] / secs
        ok = sync["state"] == "complete" and counts["registered"] == args.files
        print(f"{args.files:,} files: {secs:.1f} s to complete ({rate:,.0f} items/s)")
        print(
            f"CPU s during the sync (PostgreSQL not counted): {used}; load {os.getloadavg()[0]:.2f}"
        )
        print(time_bar("first", secs, ok, args.files, FIRST_FILES, FIRST_BAR_S, failures))
        peak = max(rss.peak_kib.values()) / 1024
        print(
            f"peak RSS: {rss.report()}; bar {RSS_BAR_MB:.0f} MB each: "
            f"{check('rss', peak < RSS_BAR_MB, failures)}"
        )


def resync(args: argparse.Namespace, files: Path, failures: list[str]) -> None:
    n, changes = args.resync_files, args.changes
    small = files / "small"
    t = make_tree(small, n, cached=False)
    print(
        f"-- 2. re-sync of {n:,} local files after {changes:,} new, overwritten, deleted "
        f"(tree made in {t:.1f} s)"
    )
    with Moorage(backend="postgresql", workers=args.workers, threads=args.threads) as m:
        dataset = m.dataset("resync")
        storage = m.local_storage(files)
        secs, sync = m.sync(dataset, storage, "small/", timeout=3600)
        print(f"first sync: {sync['state']} in {secs:.1f} s, counts {sync['counts']}")
        if not args.no_drain:
            print(f"its processing drained {m.wait_processed(timeout=3600):.1f} s later")
        dataset_id = m.dataset_id(dataset)
        (max_seq,) = m.sql(f"SELECT max(seq) FROM items WHERE dataset_id = {dataset_id}")[0]
        change_tree(small, n, changes)
        secs, sync = m.sync(dataset, storage, "small/", timeout=600)
        counts: dict[str, Any] = sync["counts"]
        (inserted,) = m.sql(
            f"SELECT count(*) FROM items WHERE dataset_id = {dataset_id} AND seq > {max_seq}"
        )[0]
        expected = {
            "listed": n,
            "registered": changes,
            "unchanged": n - 2 * changes,
            "changed": changes,
            "blocked": 0,
            "missing": changes,
            "restored": 0,
        }
        wrong = {k: (counts.get(k), v) for k, v in expected.items() if counts.get(k) != v}
        print(f"re-sync: {sync['state']} in {secs:.2f} s, counts {counts}")
        print(
            f"counts exactly as expected: {check('counts', not wrong, failures)}"
            + (f" (got, expected: {wrong})" if wrong else "")
        )
        print(
            f"items inserted by the re-sync: {inserted} (bar: {changes}, nothing re-registered): "
            f"{check('re-registered', inserted == changes, failures)}"
        )
        ok = sync["state"] == "complete"
        print(time_bar("resync", secs, ok, n, RESYNC_FILES, RESYNC_BAR_S, failures))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1_000_000, help="files of the first sync")
    parser.add_argument("--resync-files", type=int, help="files of the re-sync (--files / 10)")
    parser.add_argument("--changes", type=int, help="new = overwritten = deleted (1%% of them)")
    parser.add_argument("--workers", type=int, default=2, help="moorage worker processes (2)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench" / "sync_local")
    parser.add_argument("--only", choices=["generate", "first", "resync"])
    parser.add_argument(
        "--no-drain",
        action="store_true",
        help="re-sync while the first sync's processing still runs",
    )
    args = parser.parse_args()
    args.resync_files = args.resync_files or max(1, args.files // 10)
    args.changes = args.changes or max(1, args.resync_files // 100)
    if 2 * args.changes > args.resync_files:
        parser.error("--changes: at most half of --resync-files")
    return args


def main() -> None:
    args = parse()
    exit_on_sigterm()
    files = (args.workdir / "files").resolve()
    shutil.rmtree(files / "derived", ignore_errors=True)  # thumbnails of the last run
    t = make_tree(files / "big", args.files, cached=True)
    print(
        f"{args.files:,} files in {files / 'big'} "
        + (f"made in {t:.1f} s" if t else "(cached)")
        + f"; {len(png_bytes(0))} bytes each; load average {os.getloadavg()[0]:.2f}"
    )
    failures: list[str] = []
    if args.only == "generate":
        t = make_tree(files / "small", args.resync_files, cached=False)
        made = change_tree(files / "small", args.resync_files, args.changes)
        print(
            f"{args.resync_files:,} re-sync files made in {t:.1f} s; changes: "
            + ", ".join(f"{len(v)} {k}" for k, v in made.items())
        )
        return
    if args.only in (None, "first"):
        first_sync(args, files, failures)
    if args.only in (None, "resync"):
        resync(args, files, failures)
    print("all bars hold" if not failures else f"bars not holding: {', '.join(failures)}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
