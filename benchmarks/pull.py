"""``darwin dataset pull`` of a 1,000-image release from local storage, against a bare download.

    uv run python benchmarks/pull.py [--images 1000] [--runs 3] [--backend sqlite|postgresql]
        [--concurrency 8]

Bar (issue 12 §4): ``darwin dataset pull team/dataset:release`` (darwin-py 3.6.3, the
``darwin`` command as a user runs it, with its default multiprocessed download) pulls at least
200 files/s. ``moorage serve`` (the embedded default: SQLite, in-process workers; or PostgreSQL
with a Redis broker and a ``moorage worker``) holds ``--images`` distinct small JPEGs on a
read-write ``local`` storage, registered and processed; a release of them is made with
``include_export_token``. Each run, alternately:

* darwin: ``darwin dataset pull bench/pull:r1`` in a fresh ``HOME``, timed from the process'
  start to its exit (start-up, the zip, annotations, then every image);
* darwin's import: a fresh Python importing ``darwin.cli`` alone, timed, so the figure without
  that fixed start-up cost is printed too;
* reference: the zip, then the same URLs read from the release's JSON files, downloaded by a
  bare ``httpx`` client on ``--concurrency`` threads and written to files (no darwin-py).

Prints files/s of each (medians), their ratio, and whether every pulled file equals the
original byte for byte. Exits 1 when the bar does not hold.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synckit import TEAM, Moorage, exit_on_sigterm, small_jpegs

BAR_FILES_PER_S = 200.0
DATASET = "pull"


def setup(m: Moorage, folder: Path, count: int) -> dict[str, bytes]:
    """``count`` JPEGs registered, processed and released; returns key -> bytes."""
    paths = small_jpegs(folder / "imgs", count)
    storage = m.local_storage(folder)
    slug = m.dataset("Pull")
    items = [{"name": p.name, "path": "/imgs", "storage_key": f"imgs/{p.name}"} for p in paths]
    body = {"items": items, "dataset_slug": slug, "storage_slug": storage}
    with m.client(timeout=600) as api:
        r = api.post(f"/api/v2/teams/{TEAM}/items/register_existing", json=body)
        r.raise_for_status()
        if r.json()["blocked_items"]:
            raise RuntimeError(f"blocked: {r.json()['blocked_items'][:2]}")
    m.wait_processed(timeout=1800)
    with m.client() as api:
        r = api.post(
            f"/api/v2/teams/{TEAM}/datasets/{slug}/exports",
            json={"name": "r1", "include_export_token": True},
        )
        r.raise_for_status()
        deadline = time.monotonic() + 600
        while True:
            listed = api.get(f"/api/v2/teams/{TEAM}/datasets/{slug}/exports").json()
            if listed and listed[0]["status"] != "pending":
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the release stayed pending")
            time.sleep(0.1)  # polling another process's state over HTTP
    if listed[0]["status"] != "complete":
        raise RuntimeError(f"release: {listed[0]}")
    return {f"imgs/{p.name}": p.read_bytes() for p in paths}


def darwin_pull(m: Moorage, work: Path) -> tuple[float, dict[str, bytes]]:
    home = Path(tempfile.mkdtemp(dir=work, prefix="home-"))
    env = {
        **os.environ,
        "HOME": str(home),
        "DARWIN_BASE_URL": m.url,
        "DARWIN_API_KEY": m.api_key,
    }
    darwin = Path(sys.executable).parent / "darwin"
    start = time.perf_counter()
    out = subprocess.run(
        [str(darwin), "dataset", "pull", f"{TEAM}/{DATASET}:r1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - start
    if out.returncode != 0 or "Encountered errors" in out.stdout:
        raise RuntimeError(f"darwin dataset pull: {out.stdout[-2000:]}{out.stderr[-2000:]}")
    images = home / ".darwin" / "datasets" / TEAM / DATASET / "images"
    return seconds, read_tree(images)


def darwin_startup() -> float:
    """Seconds for a fresh Python to import what ``darwin dataset pull`` imports (its fixed
    cost: under load it is a large part of a 1,000-file pull)."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import darwin.cli, darwin.cli_functions"], check=True, timeout=600
    )
    return time.perf_counter() - start


def reference_pull(m: Moorage, work: Path, concurrency: int) -> tuple[float, dict[str, bytes]]:
    target = Path(tempfile.mkdtemp(dir=work, prefix="ref-"))
    start = time.perf_counter()
    with httpx.Client(timeout=60, headers=m.headers) as api:
        listed = api.get(f"{m.url}/api/v2/teams/{TEAM}/datasets/{DATASET}/exports").json()
        data = api.get(listed[0]["download_url"]).content
        jobs = []
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                item = json.loads(zf.read(name))["item"]
                source = item["slots"][0]["source_files"][0]
                jobs.append((source["url"], target / item["path"].strip("/") / item["name"]))
        for _, path in jobs:
            path.parent.mkdir(parents=True, exist_ok=True)

        def fetch(job: tuple[str, Path]) -> None:
            url, path = job
            with api.stream("GET", url) as r:
                r.raise_for_status()
                with open(path, "wb") as f:
                    for chunk in r.iter_bytes():
                        f.write(chunk)

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(fetch, jobs))
    return time.perf_counter() - start, read_tree(target)


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--processes", type=int, default=1, help="moorage serve --processes")
    parser.add_argument("--concurrency", type=int, default=8, help="reference threads (8)")
    args = parser.parse_args()
    exit_on_sigterm()
    with Moorage(backend=args.backend, workers=1, processes=args.processes) as m:
        originals = setup(m, m.tmp / "files", args.images)
        work = m.tmp / "pulls"
        work.mkdir()
        print(
            f"{args.images} images released ({args.backend}); load average "
            f"{os.getloadavg()[0]:.2f}; cpus {os.cpu_count()}"
        )
        darwin_s, ref_s, start_s, same = [], [], [], True
        for run in range(args.runs):
            start_s.append(darwin_startup())
            t, got = darwin_pull(m, work)
            darwin_s.append(t)
            same &= got == originals
            r, ref = reference_pull(m, work, args.concurrency)
            ref_s.append(r)
            same &= ref == originals
            print(
                f"run {run + 1}: darwin {args.images / t:.0f} files/s ({t:.2f} s, of which "
                f"{start_s[-1]:.2f} s importing darwin-py), "
                f"reference {args.images / r:.0f} files/s ({r:.2f} s)"
            )
    d, r = args.images / statistics.median(darwin_s), args.images / statistics.median(ref_s)
    warm = args.images / statistics.median(t - s for t, s in zip(darwin_s, start_s, strict=True))
    holds = d >= BAR_FILES_PER_S and same
    print(
        f"median: darwin dataset pull {d:.0f} files/s ({warm:.0f} files/s without its import "
        f"time), bare httpx x{args.concurrency} {r:.0f} files/s, ratio {d / r:.2f} "
        f"({warm / r:.2f}); byte for byte: {'yes' if same else 'NO'}; "
        f"bar {BAR_FILES_PER_S:.0f} files/s: {'holds' if holds else 'does not hold'}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    sys.exit(0 if holds else 1)


if __name__ == "__main__":
    main()
