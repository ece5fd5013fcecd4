"""``darwin dataset push`` of 1,000 small images into a local-storage dataset, end to end.

    uv run python benchmarks/push.py [--backend sqlite|postgresql] [--files 1000] [--runs 3]

moorage runs as ``moorage serve`` (SQLite: in-process workers; PostgreSQL: Redis and one
``moorage worker``), its team's default storage a read-write local folder. Each run pushes the
same files into a fresh dataset with the real darwin CLI (darwin-py 3.6.3, its own process, its
own upload loop: register_upload in chunks of 500, then per file sign, PUT, confirm on its thread
pool). The time is the CLI's, from start to exit. The thumbnails are made meanwhile by the
workers; when every item is ``complete`` is printed too (not the bar). The server has the default
rate limit (decision 0049), as a user has it; ``--processes``: ``moorage serve --processes``.

The reference, in the same run and alternated with it: the floor of the same 1,000 PUTs with a
bare ``requests.put`` loop on the same thread pool darwin-py uses (``ThreadPoolExecutor()``'s
default size) to a trivial server (``http.server``, a thread a request, the body written to a
file). Prints the medians, files/s, and moorage's rate as a share of the floor's.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localkit import free_port, wait_until
from synckit import TEAM, Moorage, exit_on_sigterm, small_jpegs

BAR_FILES_PER_S = 100.0
DARWIN = str(Path(sys.executable).parent / "darwin")

TRIVIAL_SERVER = """
import sys, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
folder = sys.argv[2]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_PUT(self):
        n = int(self.headers["Content-Length"])
        with open(f"{folder}/{uuid.uuid4().hex}", "wb") as f:
            f.write(self.rfile.read(n))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def darwin_env(m: Moorage, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DARWIN_", "MOORAGE_"))}
    return {**env, "HOME": str(home), "DARWIN_BASE_URL": m.url}


def set_up(m: Moorage, tmp: Path) -> dict[str, str]:
    bucket = tmp / "bucket"
    bucket.mkdir()
    m.cli("admin", "grant-folder", "--team", TEAM, str(bucket))
    body = {"name": "uploads", "provider": "local", "bucket": str(bucket), "default": True}
    with m.client() as api:
        r = api.post(f"/api/teams/{TEAM}/storage", json=body)
    if r.status_code != 200:
        raise RuntimeError(f"storage: {r.status_code} {r.text}")
    home = tmp / "home"
    home.mkdir()
    env = darwin_env(m, home)
    args = ["--api_key", m.api_key, "--default_team", TEAM, "--datasets_dir", str(tmp / "ds")]
    subprocess.run([DARWIN, "authenticate", *args], env=env, check=True, capture_output=True)
    return env


def settled(m: Moorage, dataset_id: int, count: int) -> bool:
    """Every item complete or failed, asked as ids only: listing all 1,000 items every 50 ms
    took the server's CPU from the workers it waited for."""
    params: dict[str, str | int] = {"dataset_ids": dataset_id, "statuses": "new,error"}
    with m.client() as api:
        r = api.get(f"/api/v2/teams/{TEAM}/items/list_ids", params=params)
    r.raise_for_status()
    return len(r.json()["item_ids"]) >= count


def processed(m: Moorage, dataset_id: int, count: int) -> bool:
    return statuses(m, dataset_id).get(("new", "complete"), 0) >= count


def statuses(m: Moorage, dataset_id: int) -> dict[tuple[str, str], int]:
    """How many items have each (status, processing_status)."""
    seen: dict[tuple[str, str], int] = {}
    with m.client() as api:
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"dataset_ids": dataset_id, "page[size]": 500}
            if cursor:
                params["page[from]"] = cursor
            page = api.get(f"/api/v2/teams/{TEAM}/items", params=params).json()
            for i in page["items"]:
                pair = (i["status"], i["processing_status"])
                seen[pair] = seen.get(pair, 0) + 1
            cursor = page["page"]["next"]
            if not cursor:
                return seen


@dataclass
class Run:
    pushed: float
    processed: float
    #: CPU seconds of darwin (the client), of moorage's processes during the push and until
    #: every item was processed
    darwin_cpu: float
    moorage_push_cpu: float
    moorage_cpu: float


def push(m: Moorage, env: dict[str, str], files: Path, count: int, run: int) -> Run:
    """Seconds of the CLI's push, and until every item was processed; CPU seconds spent."""
    slug = m.dataset(f"push-{run}")
    with m.client() as api:
        dataset_id = next(d["id"] for d in api.get("/api/datasets").json() if d["slug"] == slug)
    cpu0, children0 = m.cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [DARWIN, "dataset", "push", f"{TEAM}/{slug}", str(files)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    pushed = time.perf_counter() - start
    cpu1, children1 = m.cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    darwin_cpu = (children1.ru_utime + children1.ru_stime) - (
        children0.ru_utime + children0.ru_stime
    )
    if f"All {count} files have been successfully uploaded" not in out.stdout:
        raise RuntimeError(f"push failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    wait_until(lambda: settled(m, dataset_id, count), timeout=3600, what="processing")
    done, cpu2 = time.perf_counter() - start, m.cpu()
    if not processed(m, dataset_id, count):
        raise RuntimeError(
            f"processing settled, not every item complete: {statuses(m, dataset_id)}"
        )
    return Run(pushed, done, darwin_cpu, cpu1 - cpu0, cpu2 - cpu0)


def floor(paths: list[Path], url: str) -> float:
    """The same PUTs, a bare loop on darwin-py's pool (a new connection each, as its)."""

    def put(path: Path) -> None:
        with path.open("rb") as f:
            requests.put(url, data=f, timeout=60).raise_for_status()

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor() as pool:
        list(pool.map(put, paths))
    return time.perf_counter() - start


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--processes", type=int, default=1, help="moorage serve --processes")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moorage-pushbench-") as tmp_name:
        tmp = Path(tmp_name)
        paths = small_jpegs(tmp / "images", args.files)
        sink = tmp / "sink"
        sink.mkdir()
        port = free_port()
        trivial = subprocess.Popen([sys.executable, "-c", TRIVIAL_SERVER, str(port), str(sink)])
        url = f"http://127.0.0.1:{port}/put"
        try:
            wait_until(lambda: _answers(url), timeout=30, what="the trivial server")
            # the default rate limit, as a user has it (decision 0049)
            moorage = Moorage(
                backend=args.backend,
                workers=1,
                threads=2,
                processes=args.processes,
                rate_limit=None,
            )
            with moorage as m:
                env = set_up(m, tmp)
                runs, floors = [], []
                for n in range(args.runs):
                    r = push(m, env, tmp / "images", args.files, n)
                    runs.append(r)
                    floors.append(floor(paths, url))
                    print(
                        f"run {n + 1}: push {args.files / r.pushed:.0f} files/s "
                        f"({r.pushed:.2f} s), all processed at {r.processed:.2f} s; "
                        f"floor {args.files / floors[-1]:.0f} files/s; CPU ms a file: darwin "
                        f"{1000 * r.darwin_cpu / args.files:.1f}, moorage during the push "
                        f"{1000 * r.moorage_push_cpu / args.files:.1f}, in all "
                        f"{1000 * r.moorage_cpu / args.files:.1f}",
                        flush=True,
                    )
        finally:
            trivial.terminate()
            trivial.wait()
    report(args, runs, floors)


def report(args: argparse.Namespace, runs: list[Run], floors: list[float]) -> None:
    rate = args.files / statistics.median(r.pushed for r in runs)
    floor_rate = args.files / statistics.median(floors)
    processed_rate = args.files / statistics.median(r.processed for r in runs)

    def ms(values: list[float]) -> str:
        return f"{1000 * statistics.median(values) / args.files:.1f} ms"

    verdict = "holds" if rate >= BAR_FILES_PER_S else "does NOT hold"
    print(f"\n{args.backend}, {args.files} images, medians of {args.runs} (load: {_load()})")
    print(f"  darwin dataset push, end to end:  {rate:,.0f} files/s")
    print(f"  until every item was processed:   {processed_rate:,.0f} files/s")
    print(f"  floor (bare PUTs, trivial server): {floor_rate:,.0f} files/s")
    print(f"  moorage / floor:                  {rate / floor_rate:.0%}")
    print(f"  CPU a file, darwin (the client):  {ms([r.darwin_cpu for r in runs])}")
    print(f"  CPU a file, moorage, the push:    {ms([r.moorage_push_cpu for r in runs])}")
    print(f"  CPU a file, moorage, processed:   {ms([r.moorage_cpu for r in runs])}")
    print(f"  bar {BAR_FILES_PER_S:.0f} files/s: {verdict}")


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
