"""Sync of a bucket vs a bare paginated listing of it, against moto's S3 server on loopback.

Writes N small JPEGs (default 20,000) under one prefix of a moto S3 bucket (its own process),
then, in the same run:

- lists the prefix with boto3's paginator (the floor: every sync has to list);
- syncs the prefix into an empty dataset (the ``run_sync`` actor's work, called in this
  process; processing jobs are queued in the database and not run, as processing goes on
  behind a sync and is not counted); lists again;
- writes 200 new objects, overwrites 200 and deletes 200; re-syncs; lists again.

Prints both times, the ratios (target <= 1.2x) and the re-sync's counts (which must be exact).

    uv run python benchmarks/sync.py [--objects 20000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from benchmarks.existence import BUCKET, create_bucket, start_moto
from PIL import Image

from moorage.config import Settings
from moorage.context import AppContext
from moorage.db import migrate
from moorage.storages.schemas import StorageCreate
from moorage.storages.service import storage_service
from moorage.syncs.runner import run_sync
from moorage.syncs.schemas import SyncCreate
from moorage.syncs.service import sync_service
from moorage.teams.service import team_service

PREFIX = "photos/"
CREDS = {"access_key_id": "bench", "secret_access_key": "bench-secret"}


def jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (seed % 256, 40, 90)).save(buf, "JPEG")
    return buf.getvalue()


def bare_listing(client: Any) -> tuple[float, int]:
    started = time.perf_counter()
    n = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX):
        n += len(page.get("Contents", []))
    return time.perf_counter() - started, n


def timed_sync(ctx: AppContext, team_slug: str) -> tuple[float, dict[str, Any]]:
    with ctx.db.session() as session:
        team = team_service.get_by_slug(session, team_slug)
        body = SyncCreate(storage_slug="bench", prefix=PREFIX)
        sync = sync_service.create(session, team, dataset_slug="bench", body=body, ctx=ctx)
        sync_id = sync.id
    started = time.perf_counter()
    outcome = run_sync(ctx, sync_id, attempt=None, send=lambda *a: None)
    elapsed = time.perf_counter() - started
    with ctx.db.session() as session:
        team = team_service.get_by_slug(session, team_slug)
        rendered = sync_service.render(session, sync_service.get(session, team, sync_id))
    if outcome != "complete":
        raise SystemExit(f"sync ended {outcome}: {rendered['error']}")
    return elapsed, rendered


def set_up(database_url: str | None, endpoint: str, data_dir: Path) -> tuple[AppContext, str]:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key="bench-secret-key",  # noqa: S106
        allowed_endpoints="127.0.0.1",
        rate_limit="",
    )
    ctx = AppContext.from_settings(settings)
    migrate(ctx.db.engine)
    slug = f"bench{uuid.uuid4().hex[:6]}"
    with ctx.db.session() as session:
        team = team_service.create_team(session, slug=slug)
        from moorage.datasets.service import dataset_service

        dataset_service.create(session, team, name="bench")
        payload = StorageCreate(
            name="bench", slug="bench", provider="minio", bucket=BUCKET,
            endpoint_url=endpoint, credentials=CREDS,
        )  # fmt: skip
        storage_service.create(
            session, team, payload=payload, secrets=ctx.secrets, registry=ctx.storages
        )
    return ctx, slug


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()
    process, endpoint = start_moto()
    try:
        create_bucket(endpoint)
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench-secret",  # noqa: S106
        )  # fmt: skip
        keys = [f"{PREFIX}img{i:06d}.jpg" for i in range(args.objects)]
        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=jpeg(1)), keys))
        print(
            f"moto S3 at {endpoint}: {len(keys)} objects in {time.perf_counter() - started:.1f} s"
        )
        with tempfile.TemporaryDirectory(prefix="moorage-bench-sync-") as tmp:
            ctx, team = set_up(args.database_url, endpoint, Path(tmp))
            print(f"database: {ctx.db.dialect}")
            before, n = bare_listing(s3)
            took, first = timed_sync(ctx, team)
            after, _ = bare_listing(s3)
            listing = statistics.median([before, after])
            print(f"\nfirst sync of {n} keys: {took:.2f} s; bare boto3 listing {before:.2f} s / "
                  f"{after:.2f} s -> ratio {took / listing:.2f}x (target <= 1.2x)")  # fmt: skip
            print(f"  counts {first['counts']}")

            c = args.changes
            fresh = [f"{PREFIX}new{i:05d}.jpg" for i in range(c)]
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=jpeg(2)), fresh))
                list(pool.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=jpeg(3)),
                              keys[:c]))  # fmt: skip
                list(pool.map(lambda k: s3.delete_object(Bucket=BUCKET, Key=k), keys[-c:]))
            before, n = bare_listing(s3)
            took, second = timed_sync(ctx, team)
            after, _ = bare_listing(s3)
            listing = statistics.median([before, after])
            counts = second["counts"]
            print(f"\nre-sync of {n} keys: {took:.2f} s; bare boto3 listing {before:.2f} s / "
                  f"{after:.2f} s -> ratio {took / listing:.2f}x (target <= 1.2x)")  # fmt: skip
            print(f"  counts {counts}")
            want = {"registered": c, "changed": c, "missing": c, "blocked": 0,
                    "unchanged": args.objects - 2 * c, "listed": args.objects}  # fmt: skip
            wrong = {k: (counts[k], v) for k, v in want.items() if counts[k] != v}
            print("  counts exact" if not wrong else f"  COUNTS WRONG (got, want): {wrong}")
            ctx.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()
