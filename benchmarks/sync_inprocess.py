"""The sync's own cost: ``run_sync`` called in this process on PostgreSQL over a local tree.

    uv run python benchmarks/sync_inprocess.py [--files 100000] [--changes 1000]
        [--redis] [--profile out.prof] [--workdir .bench/sync_inprocess]

The same tree as ``sync_local.py`` (one tiny PNG hard-linked, 1,000 to a folder), a fresh
PostgreSQL database, no workers: a first sync into an empty dataset, then ``--changes`` new,
overwritten and deleted files and a re-sync. ``--redis``: the runtime's Redis dispatcher is
installed (a private ``redis-server``), so each page's processing jobs are sent as in
production; without it they are only committed. Prints wall time, items/s and the CPU seconds
of this process, of the database's backends and of redis-server (the load inflates wall time,
far less CPU time). ``--profile``: cProfile of the first sync to that file, of the re-sync to
that file + ``.resync``. ``--page-size``: the ``sync_page_size`` setting.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localkit import PG_ADMIN, start_redis
from sync_local import ROOT, change_tree, make_tree
from synckit import cpu_seconds

from moorage.config import Settings
from moorage.context import AppContext
from moorage.datasets.service import dataset_service
from moorage.db import migrate
from moorage.folders.service import folder_service
from moorage.storages.schemas import StorageCreate
from moorage.storages.service import storage_service
from moorage.syncs.runner import run_sync
from moorage.syncs.schemas import SyncCreate
from moorage.syncs.service import sync_service
from moorage.teams.service import team_service


def backend_pids(ctx: AppContext, database: str) -> list[int]:
    with ctx.db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'"
        ).all()
    return [int(r[0]) for r in rows]


def cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)


def timed(
    ctx: AppContext, team: str, database: str, redis_pid: int | None, prof: str | None
) -> tuple[float, dict[str, float], dict[str, Any]]:
    with ctx.db.session() as session:
        t = team_service.get_by_slug(session, team)
        body = SyncCreate(storage_slug="files", prefix="tree/")
        sync_id = sync_service.create(session, t, dataset_slug="bench", body=body, ctx=ctx).id
    pg = backend_pids(ctx, database)
    others = [redis_pid] if redis_pid else []
    before = (time.process_time(), cpu(pg), cpu(others))
    profiler = cProfile.Profile() if prof else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    outcome = run_sync(ctx, sync_id, attempt=None, send=lambda *a: None)
    if profiler:
        profiler.disable()
        profiler.dump_stats(prof)
    wall = time.perf_counter() - started
    pg = backend_pids(ctx, database)  # the pool's connections may have been opened meanwhile
    used = {
        "python": time.process_time() - before[0],
        "postgres": cpu(pg) - before[1],
        "redis": cpu(others) - before[2],
    }
    with ctx.db.session() as session:
        t = team_service.get_by_slug(session, team)
        rendered = sync_service.render(session, sync_service.get(session, t, sync_id))
    if outcome != "complete":
        raise SystemExit(f"sync ended {outcome}: {rendered['error']}")
    return wall, used, rendered


def set_up(url: str, data_dir: Path, files: Path, page: int | None) -> tuple[AppContext, str]:
    settings = Settings(
        **({"sync_page_size": page} if page else {}),
        data_dir=data_dir,
        database_url=url,
        secret_key="bench-secret-key",  # noqa: S106
        rate_limit="",
    )
    ctx = AppContext.from_settings(settings)
    migrate(ctx.db.engine)
    slug = f"bench{uuid.uuid4().hex[:6]}"
    with ctx.db.session() as session:
        team = team_service.create_team(session, slug=slug)
        dataset_service.create(session, team, name="bench")
        folder_service.grant(session, team, path=str(files), protected=[data_dir])
        payload = StorageCreate(
            name="files", slug="files", provider="local", bucket=str(files), prefix="derived"
        )
        storage_service.create(
            session, team, payload=payload, secrets=ctx.secrets, registry=ctx.storages
        )
    return ctx, slug


def report(name: str, n: int, wall: float, used: dict[str, float], counts: Any) -> None:
    total = sum(used.values())
    parts = ", ".join(f"{k} {v:.1f}" for k, v in used.items())
    print(
        f"{name}: {wall:.2f} s ({n / wall:,.0f} items/s); CPU {total:.1f} s ({parts}; "
        f"{1000 * total / n:.3f} ms an item); load {os.getloadavg()[0]:.2f}; counts {counts}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--changes", type=int)
    parser.add_argument("--redis", action="store_true", help="send jobs to a private Redis")
    parser.add_argument(
        "--profile", help="cProfile the first sync to this file (the re-sync to FILE.resync)"
    )
    parser.add_argument("--page-size", type=int, help="sync_page_size (default: the setting's)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench" / "sync_inprocess")
    args = parser.parse_args()
    changes = args.changes or max(1, args.files // 100)
    files = args.workdir.resolve()
    tree = files / "tree"
    make_tree(tree, args.files, cached=False)
    database = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    redis = None
    with tempfile.TemporaryDirectory(prefix="moorage-sync-inproc-") as tmp:
        try:
            ctx, team = set_up(f"{url}/{database}", Path(tmp), files, args.page_size)
            if args.redis:
                from moorage.worker.runtime import Runtime

                redis, port = start_redis(Path(tmp))
                Runtime(ctx, broker_url=f"redis://127.0.0.1:{port}/0", threads=1).install()
            rpid = redis.pid if redis else None
            wall, used, first = timed(ctx, team, database, rpid, args.profile)
            report("first sync", args.files, wall, used, first["counts"])
            change_tree(tree, args.files, changes)
            prof = f"{args.profile}.resync" if args.profile else None
            wall, used, again = timed(ctx, team, database, rpid, prof)
            report("re-sync", args.files, wall, used, again["counts"])
            ctx.close()
        finally:
            if redis:
                redis.terminate()
                redis.wait()
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    main()
