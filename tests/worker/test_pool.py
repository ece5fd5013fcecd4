"""Processing in child processes (``MOORAGE_PROCESSING_IN=processes``, the default)."""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator

import pytest
from PIL import Image

from moorage.context import AppContext
from moorage.models import Job
from moorage.worker.runtime import Runtime
from tests.helpers import jpeg_bytes, make_storage
from tests.media.test_limits import blank_pdf
from tests.test_health import scrape, value
from tests.worker.test_faults import item, jobs, register, wait_for


@pytest.fixture
def processing_in() -> str:
    return "processes"


@pytest.fixture
def runtime(ctx: AppContext) -> Iterator[Runtime]:
    rt = Runtime(ctx, broker_url=None, threads=2)
    rt.install()
    rt.start_workers(reconcile_every=3600)  # no reconciler round can be what ran a job again
    yield rt
    rt.stop(grace=0)


def _running(ctx: AppContext) -> Job | None:
    return next((j for j in jobs(ctx) if j.status == "running"), None)


class TestInChildren:
    def test_jobs_run_in_children_not_in_the_process_that_took_the_messages(
        self, api, ctx, dataset, bucket, put_file, runtime: Runtime, monkeypatch
    ) -> None:
        def not_here(*_: object, **__: object) -> str:
            raise AssertionError("the job ran in the parent")

        monkeypatch.setattr("moorage.worker.runtime.process_job", not_here)
        make_storage(api)
        for n in range(4):
            put_file(f"{n}.jpg", jpeg_bytes(640, 480))
        registered = register(api, *(f"{n}.jpg" for n in range(4)))
        runtime.join()
        for r in registered:
            done = item(api, r["id"])
            assert done["processing_status"] == "complete", done.get("processing_error")
            thumbnail = api.get(done["slots"][0]["thumbnail_url"]).content
            with Image.open(io.BytesIO(thumbnail)) as t:
                assert t.size == (267, 200)
        assert runtime.pool is not None
        pids = runtime.pool.pids()
        assert len(pids) == 2 and os.getpid() not in pids

    def test_an_undecodable_file_ends_in_error_with_its_reason(
        self, api, ctx, dataset, bucket, put_file, runtime: Runtime
    ) -> None:
        make_storage(api)
        put_file("broken.jpg", b"\xff\xd8\xff\xe0 this is not really a jpeg")
        (registered,) = register(api, "broken.jpg")
        runtime.join()
        failed = item(api, registered["id"])
        assert (failed["status"], failed["processing_status"]) == ("error", "error")
        err = failed["processing_error"]
        assert err["storage_key"] == "broken.jpg" and err["stage"] and err["message"]
        (job,) = jobs(ctx)
        assert (job.status, job.attempts) == ("error", 1)

    def test_a_child_s_job_is_in_the_parent_s_metrics(
        self, api, ctx, dataset, bucket, put_file, runtime: Runtime
    ) -> None:
        make_storage(api)
        put_file("a.jpg", jpeg_bytes(64, 48))
        put_file("broken.jpg", b"not a jpeg at all")
        name = "moorage_processing_seconds_count"
        before = scrape(api)
        register(api, "a.jpg", "broken.jpg")
        runtime.join()
        after = scrape(api)
        for outcome in ("done", "error"):
            grew = value(after, name, kind="image", outcome=outcome) - value(
                before, name, kind="image", outcome=outcome
            )
            assert grew == 1, outcome


class TestChildrenDying:
    def test_a_killed_child_s_job_runs_again_in_seconds_not_after_the_heartbeat_timeout(
        self, api, ctx, dataset, bucket, runtime: Runtime
    ) -> None:
        make_storage(api)
        blank_pdf(bucket / "slow.pdf", 400)  # ~0.1 s a page: about a minute of work
        register(api, "slow.pdf")
        assert wait_for(lambda: _running(ctx), timeout=60), "no child took the job"
        assert runtime.pool is not None
        first = runtime.pool.pids()
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        # the heartbeat timeout is 45 s and the reconciler sleeps an hour: only the take-back
        again = wait_for(lambda: (j := _running(ctx)) is not None and j.attempts == 2, timeout=20)
        assert again, f"the job did not run again: {[(j.status, j.attempts) for j in jobs(ctx)]}"
        assert set(runtime.pool.pids()).isdisjoint(first)

    def test_stopping_hands_a_child_s_running_job_back(
        self, api, ctx, dataset, bucket, runtime: Runtime
    ) -> None:
        make_storage(api)
        blank_pdf(bucket / "slow.pdf", 400)
        register(api, "slow.pdf")
        assert wait_for(lambda: _running(ctx), timeout=60), "no child took the job"
        assert runtime.pool is not None
        children = runtime.pool.pids()
        assert runtime.stop(grace=0.2) == 1
        (job,) = jobs(ctx)
        assert (job.status, job.attempts) == ("queued", 1)
        assert wait_for(lambda: not any(_alive(pid) for pid in children), timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
