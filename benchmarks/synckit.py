"""Helpers for the sync benchmarks: a moorage of their own, its syncs, its peak RSS, test files.

:class:`Moorage` starts ``moorage serve`` on a free loopback port with a temporary data dir:
either the embedded default (SQLite, in-process workers: what one user runs, like Label
Studio's ``label-studio start``) or PostgreSQL (a fresh database) with a private Redis broker
and ``moorage worker`` processes. Syncs are driven through the HTTP API of issue 10:
``POST /api/v2/teams/{team}/datasets/{dataset}/syncs`` then ``GET /api/v2/teams/{team}/syncs/{id}``
until the state is final.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localkit import PG_ADMIN, Started, api_ready, free_port, start_redis, wait_until

from moorage.cli_sync import POLL_SECONDS

TEAM = "bench"
FINAL_STATES = {"complete", "failed", "cancelled"}
MOORAGE = [sys.executable, "-m", "moorage.cli"]


def exit_on_sigterm() -> None:
    """SIGTERM (``timeout``, a CI stop) exits through Python, so every ``with`` block stops its
    processes and drops its database instead of leaving them behind."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# -- files ------------------------------------------------------------------------------------


def small_jpegs(folder: Path, count: int, *, size: tuple[int, int] = (96, 64)) -> list[Path]:
    """``count`` distinct real JPEGs (a Mandelbrot tile, a few pixels coloured per index)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    base = Image.effect_mandelbrot(size, (-2, -1.2, 1, 1.2), 40).convert("RGB")
    paths = []
    for i in range(count):
        image = base.copy()
        for j in range(4):  # distinct bytes for every file, so no two share an etag
            image.putpixel((j, 0), ((i >> (8 * j)) & 255, (i * 7 + j) & 255, 255 - j))
        path = folder / f"{i:07d}.jpg"
        image.save(path, "JPEG", quality=85)
        paths.append(path)
    return paths


def png_bytes(seed: int = 0, *, size: tuple[int, int] = (32, 32)) -> bytes:
    """One tiny real PNG; another ``seed`` gives other bytes and (mostly) another size."""
    from PIL import Image

    image = Image.effect_mandelbrot(size, (-2, -1.2, 1, 1.2), 20 + seed % 200).convert("RGB")
    image.putpixel((0, 0), (seed & 255, (seed >> 8) & 255, (seed >> 16) & 255))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


# -- peak memory ------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def vm_hwm_kib(pid: int) -> int:
    """The process's peak resident set (``VmHWM``), KiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants, seconds."""
    total = 0
    for p in _descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


class PeakRss:
    """Samples VmHWM of named processes and all their descendants every ``every`` seconds."""

    def __init__(self, roots: dict[str, int], every: float = 0.5) -> None:
        self.roots, self.every = roots, every
        self.peak_kib: dict[str, int] = dict.fromkeys(roots, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        for name, root in self.roots.items():
            for pid in _descendants(root):
                self.peak_kib[name] = max(self.peak_kib[name], vm_hwm_kib(pid))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def report(self) -> str:
        return ", ".join(f"{name} {kib / 1024:.0f} MB" for name, kib in self.peak_kib.items())


# -- moorage ----------------------------------------------------------------------------------


class Moorage(Started):
    """``with Moorage(backend="sqlite"|"postgresql", workers=N) as m:``; all of it stops after."""

    def __init__(
        self,
        *,
        backend: str = "sqlite",
        workers: int = 2,
        threads: int = 1,
        processes: int = 1,
        rate_limit: str | None = "0",
    ) -> None:
        if backend not in ("sqlite", "postgresql"):
            raise ValueError("backend: sqlite|postgresql")
        self.backend, self.n_workers, self.threads = backend, workers, threads
        self.serve_processes = processes  # ``moorage serve --processes``
        #: the default (``None``) or another limit; off by default: a benchmark polls
        self.rate_limit = rate_limit
        self.tmp = Path(tempfile.mkdtemp(prefix="moorage-syncbench-"))
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.db_name = f"moorage_syncbench_{uuid.uuid4().hex[:8]}"
        self.db_url = ""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self._services: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}
        self.api_key = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"ApiKey {self.api_key}"}

    def start(self) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")},
            "MOORAGE_DATA_DIR": str(self.tmp / "data"),
            "MOORAGE_SECRET_KEY": "syncbench-only",
            "MOORAGE_LOG_LEVEL": "WARNING",
        }
        if self.rate_limit is not None:
            self.env["MOORAGE_RATE_LIMIT"] = self.rate_limit
        for name in ("MOORAGE_PROCESSING_IN", "MOORAGE_PROCESSING_NICE"):  # to compare them
            if name in os.environ:
                self.env[name] = os.environ[name]
        if self.backend == "postgresql":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
            self.db_url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{self.db_name}"
            redis, redis_port = start_redis(self.tmp)
            self._services.append(redis)
            self.env["MOORAGE_DATABASE_URL"] = self.db_url
            self.env["MOORAGE_BROKER_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        self.api_key = json.loads(self.cli("admin", "create-team", TEAM).stdout)["api_key"]
        serve = ["serve", "--port", str(self.port), "--processes", str(self.serve_processes)]
        self.server = self._spawn("serve", serve)
        if self.backend == "postgresql":
            for i in range(self.n_workers):
                args = ["worker", "--threads", str(self.threads)]
                self.workers.append(self._spawn(f"worker-{i}", args))
        wait_until(self._ready, timeout=120, what="moorage serve")

    def _ready(self) -> bool:
        for name, proc in self.processes().items():
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited {proc.returncode}: {tail}")
        return api_ready(self.url)

    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        named = {f"worker-{i}": w for i, w in enumerate(self.workers)}
        return {"serve": self.server, **named} if self.server else named

    def cpu(self) -> float:
        """CPU seconds used so far by ``moorage serve``, the workers and their children."""
        return sum(cpu_seconds(p.pid) for p in self.processes().values())

    def stop(self) -> None:
        for proc in [*self.processes().values(), *self._services]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.processes().values(), *self._services]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.db_url:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MOORAGE, *args], env=self.env, check=True, capture_output=True, text=True, timeout=300
        )

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "ab") as log:
            return subprocess.Popen([*MOORAGE, *args], env=self.env, stdout=log, stderr=log)

    # -- the team's set-up ----------------------------------------------------------------

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def local_storage(self, folder: Path, slug: str = "files") -> str:
        """A read-write ``local`` storage over ``folder`` (granted to the team), derivatives under
        ``folder/derived``."""
        self.cli("admin", "grant-folder", "--team", TEAM, str(folder))
        body = {"name": slug, "slug": slug, "provider": "local", "bucket": str(folder)}
        with self.client() as api:
            r = api.post(f"/api/teams/{TEAM}/storage", json={**body, "prefix": "derived"})
        if r.status_code != 200:
            raise RuntimeError(f"storage: {r.status_code} {r.text}")
        return slug

    def dataset(self, name: str) -> str:
        with self.client() as api:
            r = api.post("/api/datasets", json={"name": name})
        r.raise_for_status()
        return str(r.json()["slug"])

    # -- syncs ----------------------------------------------------------------------------

    def start_sync(self, dataset: str, storage: str, prefix: str, **options: Any) -> str:
        body = {"storage_slug": storage, "prefix": prefix, **options}
        with self.client() as api:
            r = api.post(f"/api/v2/teams/{TEAM}/datasets/{dataset}/syncs", json=body)
        if r.status_code != 202:
            raise RuntimeError(f"POST syncs: {r.status_code} {r.text[:500]}")
        return str(r.json()["id"])

    def wait_sync(self, sync_id: str, *, timeout: float = 3600, every: float = 0.05) -> Any:
        """Poll the sync until its state is final; returns the sync object.

        Every ``every`` seconds at first, then every 0.5 % of the time waited so far, never less
        often than ``moorage sync`` does (``POLL_SECONDS``): the time measured is within
        0.5 % of the true one, and a long sync is not slowed by thousands of polls (at a
        fixed 50 ms, a 1,000,000-file sync was polled 3,400 times: 18 s of the server's CPU)."""
        started = time.monotonic()
        deadline = started + timeout
        with self.client() as api:
            while True:
                r = api.get(f"/api/v2/teams/{TEAM}/syncs/{sync_id}")
                r.raise_for_status()
                body = r.json()
                if body["state"] in FINAL_STATES:
                    return body
                if time.monotonic() > deadline:
                    raise TimeoutError(f"sync {sync_id} still {body['state']} after {timeout} s")
                waited = time.monotonic() - started
                # polling another process's state over HTTP
                time.sleep(min(POLL_SECONDS, max(every, waited / 200)))

    def sync(
        self, dataset: str, storage: str, prefix: str, *, timeout: float = 3600, **options: Any
    ) -> tuple[float, Any]:
        """Start a sync and wait for it: (seconds from POST to a final state, the sync)."""
        start = time.perf_counter()
        sync_id = self.start_sync(dataset, storage, prefix, **options)
        body = self.wait_sync(sync_id, timeout=timeout)
        return time.perf_counter() - start, body

    def count_items(self, dataset: str, query: str = "") -> int:
        """Items of a dataset (optionally filtered), counted by walking the listing's pages."""
        total, cursor = 0, ""
        with self.client() as api:
            while True:
                url = f"/api/v2/teams/{TEAM}/items?dataset_ids={self.dataset_id(dataset)}"
                r = api.get(f"{url}&page[size]=1000{query}{cursor}")
                r.raise_for_status()
                body = r.json()
                total += len(body["items"])
                nxt = (body.get("page") or {}).get("next")
                if not nxt or not body["items"]:
                    return total
                cursor = f"&page[from]={nxt}"

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """A read-only query on moorage's database (SQLite or PostgreSQL); no parameters."""
        if self.db_url:
            with psycopg.connect(self.db_url, autocommit=True) as conn:
                return conn.execute(query).fetchall()
        import sqlite3

        with sqlite3.connect(self.tmp / "data" / "moorage.db") as conn:
            return conn.execute(query).fetchall()

    def dataset_id(self, slug: str) -> int:
        with self.client() as api:
            r = api.get("/api/datasets")
        r.raise_for_status()
        return int(next(d["id"] for d in r.json() if d["slug"] == slug))

    def wait_processed(self, timeout: float) -> float:
        """Seconds until no item is ``processing`` (the work a sync leaves behind)."""
        start = time.perf_counter()
        with self.client() as api:

            def idle() -> bool:
                r = api.get(f"/api/v2/teams/{TEAM}/items?statuses=processing&page[size]=1")
                return r.status_code == 200 and not r.json()["items"]

            wait_until(idle, timeout=timeout, what="processing to drain")
        return time.perf_counter() - start
