"""Faults cost seconds: caps end in ``error``, a silent job is taken back, retries log one line."""

from __future__ import annotations

import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from moorage.context import AppContext
from moorage.models import Job
from moorage.models.base import utcnow
from moorage.storage.base import StorageUnavailable
from moorage.worker.dispatch import set_dispatcher
from moorage.worker.failure import scrub_paths
from moorage.worker.reconciler import Reconciler
from moorage.worker.repository import job_repository
from moorage.worker.runtime import QUEUE, Runtime
from tests.helpers import REGISTER, jpeg_bytes, make_storage
from tests.media.test_limits import blank_pdf

ITEMS = "/api/v2/teams/acme/items"


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``condition`` until it is truthy (the work happens in other threads)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        pause.wait(0.02)


def register(api: TestClient, *keys: str) -> list[dict]:
    body = {
        "items": [{"name": Path(k).name, "storage_key": k} for k in keys],
        "dataset_slug": "darwin-py",
        "storage_slug": "media",
    }
    r = api.post(REGISTER, json=body)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def item(api: TestClient, item_id: str) -> dict:
    return api.get(f"{ITEMS}/{item_id}").json()


def jobs(ctx: AppContext) -> list[Job]:
    with ctx.db.session() as session:
        return list(session.query(Job).all())


class Wrapped:
    """The real adapter, with ``head`` / ``open_read`` replaced by the test."""

    def __init__(self, inner: Any, **overrides: Callable[..., Any]) -> None:
        self._inner = inner
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return lambda *a, **k: self._overrides[name](self._inner, *a, **k)
        return getattr(self._inner, name)


def wrap_adapters(monkeypatch, ctx: AppContext, **overrides: Callable[..., Any]) -> None:
    real = ctx.storages.adapter_for
    monkeypatch.setattr(
        ctx.storages,
        "adapter_for",
        lambda session, storage: Wrapped(real(session, storage), **overrides),
    )


@pytest.fixture
def fast_runtime(ctx: AppContext) -> Iterator[Callable[[], Runtime]]:
    """Starts workers whose heartbeat timeout is 1 s: beats every 0.11 s, a round every 0.22 s."""
    started: list[Runtime] = []

    def start() -> Runtime:
        ctx.settings.job_heartbeat_timeout_seconds = 1.0
        rt = Runtime(ctx, broker_url=None, threads=2)
        rt.install()
        rt.start_workers()
        started.append(rt)
        return rt

    yield start
    for rt in started:
        rt.stop(grace=5)


class TestCapsInTheWorker:
    def test_page_bomb_ends_in_error_and_writes_nothing(
        self, api, dataset, bucket: Path, runtime: Runtime
    ) -> None:
        make_storage(api)
        api.patch("/api/teams/acme/storage/media", json={"prefix": "derived"})
        blank_pdf(bucket / "bomb.pdf", 20_000)
        (registered,) = register(api, "bomb.pdf")
        started = time.monotonic()
        runtime.join()
        assert time.monotonic() - started < 15
        failed = item(api, registered["id"])
        assert (failed["status"], failed["processing_status"]) == ("error", "error")
        error = failed["processing_error"]
        assert error["reason"] == "limit_exceeded" and error["limit"] == "max_pages_per_slot"
        assert "20000 pages" in error["message"] and "2000" in error["message"]
        assert [p.name for p in bucket.rglob("*") if p.is_file()] == ["bomb.pdf"]

    def test_derivative_bytes_cap(self, api, ctx, dataset, bucket: Path, runtime) -> None:
        make_storage(api)
        ctx.settings.max_derivative_bytes = 10_000
        blank_pdf(bucket / "ten.pdf", 10)
        (registered,) = register(api, "ten.pdf")
        runtime.join()
        error = item(api, registered["id"])["processing_error"]
        assert error["limit"] == "max_derivative_bytes"


class TestTemporaryPathsScrubbed:
    def test_error_message_names_the_file_not_the_workers_folder(
        self, api, dataset, bucket: Path, runtime: Runtime
    ) -> None:
        make_storage(api)
        (bucket / "clips").mkdir()
        (bucket / "clips" / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 200)
        (registered,) = register(api, "clips/bad.mp4")
        runtime.join()
        error = item(api, registered["id"])["processing_error"]
        assert error["stage"] == "probe"
        assert "bad.mp4" in error["message"]
        assert "moorage-job-" not in error["message"]
        assert tempfile.gettempdir() not in error["message"]

    def test_scrub_paths(self) -> None:
        text = "Invalid data: '/tmp/x/moorage-job-k3j_9/00000-a b.mp4' and /var/moorage-job-q/f"
        assert scrub_paths(text) == "Invalid data: 'a b.mp4' and f"


class TestSilentJobsTakenBack:
    def test_a_claimed_job_whose_heartbeat_stopped_runs_again(
        self, api, ctx, dataset, bucket: Path, put_file, fast_runtime: Runtime
    ) -> None:
        """A worker claimed the job and was killed: no beat, no finish."""
        make_storage(api)
        put_file("a.jpg", jpeg_bytes(300, 200))
        set_dispatcher(None)
        (registered,) = register(api, "a.jpg")
        (job,) = jobs(ctx)
        with ctx.db.session() as session:
            dead_token = job_repository.claim(session, job.id, attempt=0)
        killed = time.monotonic()
        fast_runtime()
        done = wait_for(lambda: item(api, registered["id"])["processing_status"] == "complete")
        assert done, "the silent job was not taken back"
        assert time.monotonic() - killed < 10  # timeout 1 s + a round of 0.22 s, on a busy box
        (job,) = jobs(ctx)
        assert (job.status, job.attempts) == ("done", 2)
        with ctx.db.session() as session:  # the dead run's token is worth nothing now
            assert not job_repository.finish(session, job.id, token=dead_token, status="error")

    def test_one_long_step_keeps_beating(
        self, api, ctx, dataset, bucket: Path, put_file, fast_runtime, monkeypatch
    ) -> None:
        """A download that takes 3x the timeout, with no progress call: not taken for dead."""
        make_storage(api)
        put_file("a.jpg", jpeg_bytes(300, 200))
        release = threading.Event()

        def slow_read(inner, key):
            release.wait(3.0)
            return inner.open_read(key)

        wrap_adapters(monkeypatch, ctx, open_read=slow_read)
        fast_runtime()
        (registered,) = register(api, "a.jpg")
        assert wait_for(lambda: item(api, registered["id"])["processing_status"] == "complete")
        (job,) = jobs(ctx)
        assert job.attempts == 1


class TestReconcilerRules:
    def _queued(self, api, ctx, put_file, n: int, *, sent: bool, age: timedelta) -> list:
        if not sent:
            set_dispatcher(None)
        for i in range(n):
            put_file(f"{sent}-{i}.jpg", jpeg_bytes())
        register(api, *(f"{sent}-{i}.jpg" for i in range(n)))
        with ctx.db.session() as session:
            rows = session.query(Job).filter(Job.updated_at > utcnow() - timedelta(seconds=5))
            ids = []
            for job in rows:
                job.updated_at = utcnow() - age
                ids.append(job.id)
        return ids

    def test_a_healthy_backlog_is_not_resent_and_lost_jobs_are(
        self, api, ctx, dataset, put_file
    ) -> None:
        rt = Runtime(ctx, broker_url=None, threads=1)  # no workers: messages stay queued
        rt.install()
        try:
            make_storage(api)
            self._queued(api, ctx, put_file, 3, sent=True, age=timedelta(seconds=60))
            assert rt.reconcile() == 0
            assert rt.broker.queues[QUEUE].qsize() == 3
            lost = self._queued(api, ctx, put_file, 2, sent=False, age=timedelta(seconds=90))
            rt.install()
            resent: list = []

            def send(batch):
                resent.extend(batch)
                rt._send_for(batch)

            rt.reconciler.send = send
            assert rt.reconcile() == 2
            assert sorted(job_id for job_id, _ in resent) == sorted(lost)
            assert rt.broker.queues[QUEUE].qsize() == 5
            assert rt.reconcile() == 0  # each has its message now: nothing more
        finally:
            rt.stop(grace=1)

    def test_duplicate_messages_run_a_job_once(
        self, api, ctx, dataset, put_file, runtime: Runtime
    ) -> None:
        make_storage(api)
        put_file("a.jpg", jpeg_bytes())
        set_dispatcher(None)
        register(api, "a.jpg")
        (job,) = jobs(ctx)
        runtime._send_for([(job.id, 0)] * 4)  # four reconcilers re-sent it for attempt 0
        runtime.send([job.id])
        runtime.join()
        (job,) = jobs(ctx)
        assert (job.status, job.attempts) == ("done", 1)

    def test_concurrent_reconcilers_take_each_job_once(self, api, ctx, dataset, put_file) -> None:
        make_storage(api)
        set_dispatcher(None)
        for i in range(20):
            put_file(f"{i}.jpg", jpeg_bytes())
        register(api, *(f"{i}.jpg" for i in range(20)))
        with ctx.db.session() as session:
            for job in session.query(Job):
                job.status, job.updated_at = "running", utcnow() - timedelta(hours=1)
        sent: list[tuple[uuid.UUID, int]] = []
        lock = threading.Lock()

        def record(batch):
            with lock:
                sent.extend(batch)

        from dramatiq.brokers.stub import StubBroker

        start = threading.Barrier(4)

        def reconcile() -> None:
            start.wait()
            Reconciler(ctx, StubBroker(), QUEUE, record).run()

        threads = [threading.Thread(target=reconcile) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        taken_back = [job_id for job_id, attempt in sent if attempt == 0]
        assert len(taken_back) == len(set(taken_back)) == 20


class TestRetryLogs:
    def test_a_storage_outage_logs_one_line_per_retry_and_no_traceback(
        self, api, ctx, dataset, bucket, put_file, runtime: Runtime, monkeypatch, capsys, caplog
    ) -> None:
        make_storage(api)
        put_file("a.jpg", jpeg_bytes())
        failures = {"left": 3}

        def head(inner, key):
            if failures["left"]:
                failures["left"] -= 1
                raise StorageUnavailable("connection refused", key=key)
            return inner.head(key)

        monkeypatch.setattr("moorage.worker.runtime.RETRY_MAX_MS", 200)
        wrap_adapters(monkeypatch, ctx, head=head)
        (registered,) = register(api, "a.jpg")
        assert wait_for(lambda: item(api, registered["id"])["processing_status"] == "complete")
        out = capsys.readouterr()
        text = out.out + out.err + caplog.text
        assert "Traceback" not in text
        assert not [r for r in caplog.records if r.exc_info]
        retries = [line for line in text.splitlines() if "job.retry" in line]
        assert len(retries) == 3
        assert all("connection refused" in line for line in retries)
        assert [re.search(r"attempt\W+(\d+)", line).group(1) for line in retries] == ["1", "2", "3"]

    def test_a_real_bug_still_logs_its_traceback(
        self, api, ctx, dataset, bucket, put_file, runtime: Runtime, monkeypatch, capsys
    ) -> None:
        make_storage(api)
        put_file("a.jpg", jpeg_bytes())

        def head(inner, key):
            raise ZeroDivisionError("a bug")

        wrap_adapters(monkeypatch, ctx, head=head)
        (registered,) = register(api, "a.jpg")
        runtime.join()
        assert item(api, registered["id"])["processing_error"]["stage"] == "internal"
        assert "Traceback" in capsys.readouterr().out
