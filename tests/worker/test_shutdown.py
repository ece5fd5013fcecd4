"""SIGTERM: a real ``moorage worker`` on Redis finishes its job within the grace, or hands it back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from moorage.context import AppContext
from moorage.worker.runtime import QUEUE, Runtime
from tests.helpers import make_storage
from tests.media.test_limits import blank_pdf
from tests.worker.test_faults import item, jobs, register, wait_for


@pytest.fixture
def redis_url() -> str:
    url = f"redis://127.0.0.1:6379/{1 + uuid.uuid4().int % 14}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def sender(ctx: AppContext, redis_url: str) -> Iterator[Runtime]:
    """The API side: jobs committed are sent to Redis."""
    rt = Runtime(ctx, broker_url=redis_url, threads=1)
    rt.install()
    yield rt
    rt.stop(grace=1)


@pytest.fixture
def start_worker(ctx: AppContext, redis_url: str) -> Iterator[Callable[..., subprocess.Popen]]:
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "MOORAGE_DATABASE_URL": ctx.db.url,
            "MOORAGE_BROKER_URL": redis_url,
            "MOORAGE_DATA_DIR": str(ctx.settings.data_dir),
            "MOORAGE_SECRET_KEY": "test-secret",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "moorage.cli", "worker", "--threads", "1", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a group of its own, as a service manager runs it
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _running(ctx: AppContext) -> bool:
    return [j.status for j in jobs(ctx)] == ["running"]


def _worker_on_a_slow_job(
    api, ctx: AppContext, bucket: Path, start_worker: Callable[..., subprocess.Popen], *args: str
) -> subprocess.Popen:
    """A worker started with ``args``, once it runs a PDF job of about a minute."""
    make_storage(api)
    blank_pdf(bucket / "slow.pdf", 400)  # ~0.1 s a page
    register(api, "slow.pdf")
    worker = start_worker(*args)
    assert wait_for(lambda: _running(ctx), timeout=60), "the worker never took the job"
    return worker


def _ready_messages(url: str) -> list[str]:
    client = redis.Redis.from_url(url)
    ids = client.lrange(f"dramatiq:{QUEUE}", 0, -1)
    return [client.hget(f"dramatiq:{QUEUE}.msgs", i).decode() for i in ids]


class TestSigterm:
    def test_a_job_longer_than_the_grace_is_handed_back(
        self, api, ctx, dataset, bucket: Path, sender, start_worker, redis_url
    ) -> None:
        make_storage(api)
        blank_pdf(bucket / "slow.pdf", 400)  # ~0.1 s a page: about a minute of work
        (registered,) = register(api, "slow.pdf")
        worker = start_worker("--grace", "0.5")
        assert wait_for(lambda: _running(ctx), timeout=60), "the worker never took the job"
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
        assert "1 job(s) handed back" in err
        assert "Traceback" not in err
        (job,) = jobs(ctx)
        assert (job.status, job.attempts) == ("queued", 1)
        assert item(api, registered["id"])["processing_status"] == "processing"
        # sent again for the attempt it was at (Dramatiq may also put the first message back:
        # of the two, the first to claim runs it and the other takes nothing)
        messages = [json.loads(m) for m in _ready_messages(redis_url)]
        assert [str(job.id), 1] in [m["args"] for m in messages]
        assert {m["args"][0] for m in messages} == {str(job.id)}

    def test_a_killed_worker_leaves_no_process_behind(
        self, api, ctx, dataset, bucket: Path, sender, start_worker
    ) -> None:
        """SIGKILL (the OOM killer): the fork server and the processing children end too."""
        worker = _worker_on_a_slow_job(api, ctx, bucket, start_worker)
        left = _descendants(worker.pid)
        assert len(left) >= 2, left  # the fork server and a child at least
        worker.kill()
        worker.wait(timeout=10)
        assert wait_for(lambda: not [p for p in left if _alive(p)], timeout=10), [
            p for p in left if _alive(p)
        ]

    def test_a_sigterm_to_the_whole_group_leaves_the_children_to_the_worker(
        self, api, ctx, dataset, bucket: Path, sender, start_worker
    ) -> None:
        """As systemd stops a unit: the processing children ignore it, the worker's grace
        holds, then the worker hands their job back (had a child died of the signal, the job
        would have been taken back by the waiting thread, and not counted here)."""
        worker = _worker_on_a_slow_job(api, ctx, bucket, start_worker, "--grace", "0.5")
        os.killpg(worker.pid, signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
        assert "1 job(s) handed back" in err
        assert "job.child_died" not in err
        (job,) = jobs(ctx)
        assert (job.status, job.attempts) == ("queued", 1)

    def test_a_sigterm_while_frozen_stops_the_worker_once_thawed(
        self, api, ctx, dataset, bucket: Path, sender, start_worker
    ) -> None:
        """SIGTERM to a stopped worker, then SIGCONT: whichever thread wakes first takes the
        signal, and the worker still stops within its grace."""
        worker = _worker_on_a_slow_job(api, ctx, bucket, start_worker, "--grace", "0.5")
        os.killpg(worker.pid, signal.SIGSTOP)
        worker.send_signal(signal.SIGTERM)
        os.killpg(worker.pid, signal.SIGCONT)
        _, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
        assert "1 job(s) handed back" in err

    def test_a_job_within_the_grace_finishes(
        self, api, ctx, dataset, bucket: Path, sender, start_worker
    ) -> None:
        make_storage(api)
        blank_pdf(bucket / "short.pdf", 25)
        (registered,) = register(api, "short.pdf")
        worker = start_worker("--grace", "120")
        assert wait_for(lambda: _running(ctx), timeout=60)
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=150)
        assert worker.returncode == 0, err
        assert "0 job(s) handed back" in err
        (job,) = jobs(ctx)
        assert job.status == "done"
        assert item(api, registered["id"])["processing_status"] == "complete"


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
