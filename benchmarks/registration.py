"""Registration throughput and listing latency, on SQLite and on PostgreSQL.

    uv run python benchmarks/registration.py [--items 10000] [--runs 5] [--list-items 1000000]

1. One register_existing request with 10,000 image items on local read-write storage (keys
   present), through the real HTTP stack (ASGI, JSON, validation, existence checks, inserts,
   job rows), against the hand-made floor of the same work run in the same process
   (``regfloor.py``: orjson parse, lstat, rows, executemany / COPY into the same tables,
   commit, orjson dump), alternating, each into a fresh dataset. Prints the medians of
   ``--runs`` runs of each: items/s, the floor's items/s, the ratio, the ratio to V7's
   published ceiling (100 items per request, 100 requests a minute: 166.7 items/s) and the
   request's peak RSS growth (the largest over the runs).
2. A dataset of 1,000,000 items (bulk-inserted directly, then listed over HTTP): the time to
   fetch pages of 500 at the start, middle and end with keyset cursors. Median of 5 each.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg
from fastapi.testclient import TestClient
from regfloor import run_floor

from moorage.app import create_app
from moorage.config import Settings
from moorage.context import AppContext
from moorage.db import migrate
from moorage.models import Item
from moorage.models.base import new_uuids, utcnow
from moorage.registration.repository import registration_repository
from moorage.registration.rows import Bulk
from moorage.teams.service import team_service

V7_CEILING = 100 * 100 / 60  # items/s: 100 items per request, 100 requests per minute
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class PeakRss:
    """Samples this process's resident memory every 5 ms: the peak above the start."""

    def __enter__(self) -> PeakRss:
        self.base = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> float:
        return self.peak - self.base


class Bench:
    """One engine's app, team, local storage and the 10,000 files registered in every run."""

    def __init__(self, database_url: str, data_dir: Path, n: int) -> None:
        secret = "bench-only"  # a throwaway key for a temporary data dir
        settings = Settings(data_dir=data_dir, database_url=database_url, secret_key=secret)
        self.url, self.n = database_url, n
        self.ctx = AppContext.from_settings(settings)
        migrate(self.ctx.db.engine)
        with self.ctx.db.session() as session:
            team = team_service.create_team(session, slug="bench")
            key = team_service.create_key(session, team)
            self.team_id = team.id
        self.client = TestClient(create_app(settings, self.ctx))
        self.client.headers["Authorization"] = f"ApiKey {key}"
        # a team's local buckets live in its own folder, <root>/<team-slug>/, and must exist
        self.root = settings.resolved_local_roots[0] / "bench" / "media"
        (self.root / "imgs").mkdir(parents=True, exist_ok=True)
        r = self.client.post(
            "/api/teams/bench/storage",
            json={"name": "media", "provider": "local", "bucket": "media"},
        )
        r.raise_for_status()
        self.storage_id = r.json()["id"]
        for i in range(n):
            (self.root / "imgs" / f"{i:06d}.jpg").write_bytes(b"\xff\xd8\xff\xe0")
        self.items = [
            {
                "name": f"{i:06d}.jpg",
                "path": "/imgs",
                "slots": [
                    {
                        "slot_name": "0",
                        "type": "image",
                        "storage_key": f"imgs/{i:06d}.jpg",
                        "file_name": f"{i:06d}.jpg",
                    }
                ],
            }
            for i in range(n)
        ]

    def dataset(self, name: str) -> dict[str, Any]:
        r = self.client.post("/api/datasets", json={"name": name})
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def body(self, slug: str) -> bytes:
        return orjson.dumps({"items": self.items, "dataset_slug": slug, "storage_slug": "media"})

    def moorage(self, run: int) -> tuple[float, float]:
        """One register_existing request: (items/s, the request's peak RSS growth in MB)."""
        body = self.body(self.dataset(f"Bench {run}")["slug"])
        headers = {"Content-Type": "application/json"}
        # the request's own peak: the payload as sent, parsed, validated, written and answered
        with PeakRss() as memory:
            start = time.perf_counter()
            r = self.client.post(
                "/api/v2/teams/bench/items/register_existing", content=body, headers=headers
            )
            elapsed = time.perf_counter() - start
        answer = r.json()
        assert r.status_code == 200 and len(answer["items"]) == self.n, (
            r.status_code,
            answer.get("blocked_items", [])[:2],
        )
        return self.n / elapsed, memory.growth

    def floor(self, run: int) -> float:
        """The same work by hand, into a dataset of its own: items/s."""
        dataset = self.dataset(f"Floor {run}")
        seconds, _ = run_floor(
            self.body(dataset["slug"]),
            database_url=self.url,
            root=self.root,
            team_id=self.team_id,
            dataset_id=dataset["id"],
            storage_id=self.storage_id,
            base="http://testserver/api/v2/teams/bench",
        )
        return self.n / seconds

    def close(self) -> None:
        self.client.close()
        self.ctx.close()


def bulk_items(ctx: AppContext, dataset_id: int, total: int) -> None:
    """Insert items + slots directly, 20,000 per transaction, as the registration repository does."""
    with ctx.db.session() as session:
        first = session.execute(Item.__table__.select().limit(1)).mappings().one()
    done = 0
    now = utcnow()
    item_cols = ("id", "name", "path", "priority", "size_bytes")
    slot_cols = ("id", "item_id", "file_name", "storage_key", "size_bytes")
    while done < total:
        batch = min(20_000, total - done)
        items = Bulk(
            "items",
            item_cols,
            constants={
                "team_id": first["team_id"],
                "dataset_id": dataset_id,
                "storage_id": first["storage_id"],
                "status": "new",
                "processing_status": "complete",
                "processing_error": None,
                "archived": False,
                "primary_type": "image",
                "layout": {"version": 1, "type": "simple", "slots": ["0"]},
                "options": {},
                "inserted_at": now,
                "updated_at": now,
            },
        )
        slots = Bulk(
            "slots",
            slot_cols,
            constants={
                "position": 0,
                "slot_name": "0",
                "type": "image",
                "kind": "image",
                "storage_thumbnail_key": None,
                "fps": None,
                "as_frames": False,
                "extract_views": False,
                "metadata": {"width": 640, "height": 480},
                "total_sections": 1,
            },
        )
        ids = new_uuids(2 * batch)
        for n, i in enumerate(range(done, done + batch)):
            items.rows.append((ids[2 * n], f"bulk{i:08d}.jpg", "/bulk", i % 5, 1000 + i))
            slots.rows.append(
                (ids[2 * n + 1], ids[2 * n], f"bulk{i:08d}.jpg", f"bulk/{i:08d}.jpg", 1000 + i)
            )
        with ctx.db.session() as session:
            registration_repository.insert(session, items)
            registration_repository.insert(session, slots)
        done += batch
    # what PostgreSQL's autovacuum (or SQLite's optimize) does after a bulk load: fresh statistics
    with ctx.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def time_page(client: TestClient, query: str) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        r = client.get(f"/api/v2/teams/bench/items?{query}")
        times.append(time.perf_counter() - start)
        assert r.status_code == 200 and len(r.json()["items"]) == 500, r.text[:300]
    return statistics.median(times) * 1000


def bench_listing(client: TestClient, dataset_id: int, total: int) -> dict[str, float]:
    base = f"dataset_ids={dataset_id}&page[size]=500"
    first = client.get(f"/api/v2/teams/bench/items?{base}").json()
    out = {"first page": time_page(client, base)}
    # a cursor in the middle and near the end: walk there by cursor from a known item's position
    from moorage.kit.cursor import encode_cursor

    seqs = {"middle page": total // 2, "last full page": total - 1000}
    first_seq = int(first["items"][0]["cursor"] and 1)
    del first_seq
    for label, seq in seqs.items():
        out[label] = time_page(client, f"{base}&page[from]={encode_cursor(None, seq)}")
    out["sorted by filename, middle"] = time_page(
        client, f"{base}&sort[filename]=desc&page[from]={encode_cursor('bulk00500000.jpg', 10**12)}"
    )
    return out


def run(label: str, url: str, n: int, runs: int, list_total: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(url, Path(tmp), n)
        ours, floors, memory = [], [], []
        for i in range(runs):
            rate, mem = bench.moorage(i)
            ours.append(rate)
            memory.append(mem)
            floors.append(bench.floor(i))
        rate, floor = statistics.median(ours), statistics.median(floors)
        print(
            f"[{label}] register {n} items in one request (median of {runs}): {rate:,.0f} items/s; "
            f"floor {floor:,.0f} items/s; moorage/floor {rate / floor:.0%} "
            f"(runs: {', '.join(f'{r:,.0f}' for r in ours)} / {', '.join(f'{f:,.0f}' for f in floors)}); "
            f"{rate / V7_CEILING:,.1f}x V7's published ceiling of {V7_CEILING:.0f}/s; "
            f"peak RSS growth {max(memory):,.0f} MB"
        )
        if list_total:
            start = time.perf_counter()
            first = bench.dataset("Listing")
            bench.client.post(
                "/api/v2/teams/bench/items/register_existing",
                content=bench.body(first["slug"]),
                headers={"Content-Type": "application/json"},
            ).raise_for_status()
            bulk_items(bench.ctx, first["id"], list_total - n)
            print(
                f"[{label}] bulk-inserted {list_total - n:,} more items in {time.perf_counter() - start:.0f} s"
            )
            for name, ms in bench_listing(bench.client, first["id"], list_total).items():
                print(
                    f"[{label}] list {list_total:,} items, {name} (500 items): median {ms:.1f} ms"
                )
        bench.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--list-items", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", f"sqlite:///{tmp}/bench.db", args.items, args.runs, args.list_items)
    if args.only != "sqlite":
        name = f"moorage_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            run(
                "postgresql",
                f"postgresql://postgres@127.0.0.1:5432/{name}",
                args.items,
                args.runs,
                args.list_items,
            )
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
