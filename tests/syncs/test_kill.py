"""kill -9 of a real ``moorage worker`` mid-sync: the next worker continues at the checkpoint,
the final counts are exact, and no key is registered twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from moorage.context import AppContext
from moorage.models import Item, Sync, SyncKey
from tests.helpers import jpeg_bytes
from tests.syncs.conftest import SYNCS
from tests.worker.test_faults import wait_for

FILES = 3000


@pytest.fixture
def worker(ctx: AppContext, redis_url: str) -> Iterator[Callable[[], subprocess.Popen]]:
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "MOORAGE_DATABASE_URL": ctx.db.url,
            "MOORAGE_BROKER_URL": redis_url,
            "MOORAGE_DATA_DIR": str(ctx.settings.data_dir),
            "MOORAGE_SECRET_KEY": "test-secret",
            "MOORAGE_SYNC_PAGE_SIZE": "20",
            "MOORAGE_JOB_HEARTBEAT_TIMEOUT_SECONDS": "3",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "moorage.cli", "worker", "--threads", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _sync(ctx: AppContext, sync_id: uuid.UUID) -> Sync:
    with ctx.db.session() as session:
        sync = session.get(Sync, sync_id)
        assert sync is not None
        return sync


class TestKilledWorker:
    def test_resumes_at_the_checkpoint_with_exact_counts(
        self,
        api,
        ctx,
        dataset,
        rw_storage,
        bucket: Path,
        sender,
        worker,
    ) -> None:
        data = jpeg_bytes(16, 16)
        for i in range(FILES):
            (bucket / f"f{i:04d}.jpg").write_bytes(data)
        r = api.post(SYNCS.format(dataset=dataset["slug"]), json={"storage_slug": "media"})
        assert r.status_code == 202
        sync_id = uuid.UUID(r.json()["id"])
        first = worker()
        assert wait_for(lambda: _sync(ctx, sync_id).counts.get("registered", 0) >= 100, 120)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = _sync(ctx, sync_id)
        assert killed_at.state == "running" and killed_at.held, "killed mid-sync"
        assert killed_at.counts["registered"] < FILES
        worker()
        assert wait_for(lambda: _sync(ctx, sync_id).state == "complete", 180)
        done = _sync(ctx, sync_id)
        assert done.attempts >= 2, "a second run finished it"
        assert done.counts["listed"] == FILES
        assert done.counts["registered"] == FILES
        assert done.counts["blocked"] == 0 and done.counts["unchanged"] == 0
        with ctx.db.session() as session:
            items = session.scalar(select(func.count()).select_from(Item))
            keys = session.scalar(select(func.count()).select_from(SyncKey))
            linked = session.scalar(select(func.count(func.distinct(SyncKey.item_id))))
        assert (items, keys, linked) == (FILES, FILES, FILES)
