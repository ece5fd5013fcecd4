"""Registration throughput and listing latency, on SQLite and on PostgreSQL.

    uv run python benchmarks/registration.py [--items 10000] [--list-items 1000000]

1. One register_existing request with 10,000 image items on local read-write storage (keys
   present), through the real HTTP stack (ASGI, JSON, validation, existence checks, inserts,
   job rows). Prints items/s, the ratio to V7's published ceiling (100 items per request,
   100 requests a minute: 166.7 items/s) and the process's peak RSS growth.
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

import psycopg
from fastapi.testclient import TestClient

from moorage.app import create_app
from moorage.config import Settings
from moorage.context import AppContext
from moorage.db import migrate
from moorage.models import Item, Slot
from moorage.models.base import utcnow
from moorage.registration.repository import registration_repository
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


def setup(database_url: str, data_dir: Path) -> tuple[AppContext, TestClient, int]:
    secret = "bench-only"  # a throwaway key for a temporary data dir
    settings = Settings(data_dir=data_dir, database_url=database_url, secret_key=secret)
    ctx = AppContext.from_settings(settings)
    migrate(ctx.db.engine)
    with ctx.db.session() as session:
        team = team_service.create_team(session, slug="bench")
        key = team_service.create_key(session, team)
    client = TestClient(create_app(settings, ctx))
    client.headers["Authorization"] = f"ApiKey {key}"
    dataset = client.post("/api/datasets", json={"name": "Bench"}).json()
    # a team's local buckets live in its own folder, <root>/<team-slug>/, and must exist
    (settings.resolved_local_roots[0] / "bench" / "media").mkdir(parents=True, exist_ok=True)
    r = client.post(
        "/api/teams/bench/storage", json={"name": "media", "provider": "local", "bucket": "media"}
    )
    r.raise_for_status()
    return ctx, client, dataset["id"]


def bench_register(client: TestClient, data_dir: Path, n: int) -> tuple[float, float]:
    media = data_dir / "storage" / "bench" / "media" / "imgs"
    media.mkdir(parents=True, exist_ok=True)
    payload_bytes = (Path(__file__).parent.parent / "tests" / "data").exists()
    del payload_bytes
    for i in range(n):
        (media / f"{i:06d}.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    items = [
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
    # the request's own peak: the payload as sent, parsed, validated, written and answered
    with PeakRss() as memory:
        start = time.perf_counter()
        r = client.post(
            "/api/v2/teams/bench/items/register_existing",
            json={"items": items, "dataset_slug": "bench", "storage_slug": "media"},
        )
        elapsed = time.perf_counter() - start
    body = r.json()
    assert r.status_code == 200 and len(body["items"]) == n, (
        r.status_code,
        body.get("blocked_items", [])[:2],
    )
    return n / elapsed, memory.growth


def bulk_items(ctx: AppContext, dataset_id: int, total: int) -> None:
    """Insert items + slots directly, 20,000 per transaction, as the registration repository does."""
    with ctx.db.session() as session:
        team_id = session.execute(Item.__table__.select().limit(1)).mappings().first()["team_id"]
        storage_id = (
            session.execute(Item.__table__.select().limit(1)).mappings().first()["storage_id"]
        )
    done = 0
    now = utcnow()
    while done < total:
        batch = min(20_000, total - done)
        items: list[dict[str, Any]] = []
        slots: list[dict[str, Any]] = []
        for i in range(done, done + batch):
            iid = uuid.uuid4()
            items.append(
                {
                    "id": iid,
                    "team_id": team_id,
                    "dataset_id": dataset_id,
                    "storage_id": storage_id,
                    "name": f"bulk{i:08d}.jpg",
                    "path": "/bulk",
                    "status": "new",
                    "processing_status": "complete",
                    "processing_error": None,
                    "archived": False,
                    "priority": i % 5,
                    "size_bytes": 1000 + i,
                    "primary_type": "image",
                    "layout": {"version": 1, "type": "simple", "slots": ["0"]},
                    "options": {},
                    "inserted_at": now,
                    "updated_at": now,
                }
            )
            slots.append(
                {
                    "id": uuid.uuid4(),
                    "item_id": iid,
                    "position": 0,
                    "slot_name": "0",
                    "type": "image",
                    "kind": "image",
                    "file_name": f"bulk{i:08d}.jpg",
                    "storage_key": f"bulk/{i:08d}.jpg",
                    "storage_thumbnail_key": None,
                    "size_bytes": 1000 + i,
                    "fps": None,
                    "as_frames": False,
                    "extract_views": False,
                    "metadata": {"width": 640, "height": 480},
                    "total_sections": 1,
                }
            )
        with ctx.db.session() as session:
            registration_repository.insert_rows(session, Item, items)
            registration_repository.insert_rows(session, Slot, slots)
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


def run(label: str, url: str, n: int, list_total: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ctx, client, dataset_id = setup(url, Path(tmp))
        rate, mem = bench_register(client, Path(tmp), n)
        print(
            f"[{label}] register {n} items in one request: {rate:,.0f} items/s "
            f"({rate / V7_CEILING:,.1f}x V7's published ceiling of {V7_CEILING:.0f}/s); "
            f"peak RSS growth {mem:,.0f} MB"
        )
        if list_total:
            start = time.perf_counter()
            bulk_items(ctx, dataset_id, list_total - n)
            print(
                f"[{label}] bulk-inserted {list_total - n:,} more items in {time.perf_counter() - start:.0f} s"
            )
            for name, ms in bench_listing(client, dataset_id, list_total).items():
                print(
                    f"[{label}] list {list_total:,} items, {name} (500 items): median {ms:.1f} ms"
                )
        client.close()
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--list-items", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", f"sqlite:///{tmp}/bench.db", args.items, args.list_items)
    if args.only != "sqlite":
        name = f"moorage_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            run(
                "postgresql",
                f"postgresql://postgres@127.0.0.1:5432/{name}",
                args.items,
                args.list_items,
            )
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
