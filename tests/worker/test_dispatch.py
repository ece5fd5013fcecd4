"""Jobs reach the queue only after their transaction commits; transient storage errors retry."""

from __future__ import annotations

import uuid

import pytest
from structlog.testing import capture_logs

from moorage.context import AppContext
from moorage.models import Job
from moorage.storage.base import ObjectInfo, StorageUnavailable
from moorage.storage.local import LocalStorage
from moorage.worker.dispatch import send_after_commit
from moorage.worker.tasks import TransientJobError, process_job
from tests.helpers import REGISTER, jpeg_bytes, make_storage


class TestAfterCommit:
    def test_nothing_is_sent_when_the_transaction_rolls_back(self, ctx: AppContext, sent) -> None:
        job_id = uuid.uuid4()

        def failing_request() -> None:
            with ctx.db.session() as session:
                send_after_commit(session, [job_id])
                raise RuntimeError("the request failed after the jobs were written")

        with pytest.raises(RuntimeError):
            failing_request()
        assert sent == []

    def test_sent_once_committed(self, ctx: AppContext, sent) -> None:
        job_id = uuid.uuid4()
        with ctx.db.session() as session:
            send_after_commit(session, [job_id])
            assert sent == []  # not before the commit
        assert sent == [job_id]

    def test_a_savepoint_released_sends_nothing_yet(self, ctx: AppContext, sent) -> None:
        # a sync page releases savepoints (its COPYs) before its transaction commits: a job
        # sent then could reach a worker before its row is visible
        job_id = uuid.uuid4()
        with ctx.db.session() as session:
            send_after_commit(session, [job_id])
            savepoint = session.begin_nested()
            savepoint.commit()
            assert sent == []
        assert sent == [job_id]

    def test_a_savepoint_rolled_back_keeps_the_jobs_before_it(self, ctx: AppContext, sent) -> None:
        # a COPY undone by its savepoint (a unique violation) must not drop the jobs of the
        # rows the transaction still commits
        job_id = uuid.uuid4()
        with ctx.db.session() as session:
            send_after_commit(session, [job_id])
            savepoint = session.begin_nested()
            savepoint.rollback()
        assert sent == [job_id]


class FlakyLocal(LocalStorage):
    """The real local adapter, but the first ``head`` times out like a throttled cloud store."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.failures = 1

    def head(self, key: str) -> ObjectInfo:
        if self.failures:
            self.failures -= 1
            raise StorageUnavailable("timed out", key=key)
        return super().head(key)


def test_transient_storage_error_requeues_then_succeeds(
    api, ctx: AppContext, dataset, bucket, put_file, sent, monkeypatch
) -> None:
    make_storage(api)
    put_file("a.jpg", jpeg_bytes(400, 300))
    api.post(
        REGISTER,
        json={
            "items": [{"name": "a.jpg", "storage_key": "a.jpg"}],
            "dataset_slug": "darwin-py",
            "storage_slug": "media",
        },
    )
    (job_id,) = sent
    flaky = FlakyLocal(bucket)
    monkeypatch.setattr(ctx.storages, "adapter_for", lambda session, storage: flaky)
    with pytest.raises(TransientJobError):
        process_job(ctx, job_id)
    with ctx.db.session() as session:
        job = session.get(Job, job_id)
        assert (job.status, job.attempts) == ("queued", 1)
    assert process_job(ctx, job_id) == "done"  # what Dramatiq's retry does, after its backoff
    with ctx.db.session() as session:
        assert session.get(Job, job_id).attempts == 2


def test_failed_job_logs_its_message(api, ctx: AppContext, dataset, bucket, put_file, sent) -> None:
    make_storage(api)
    put_file("broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")
    api.post(
        REGISTER,
        json={
            "items": [{"name": "broken.jpg", "storage_key": "broken.jpg"}],
            "dataset_slug": "darwin-py",
            "storage_slug": "media",
        },
    )
    (job_id,) = sent
    with capture_logs() as logs:
        assert process_job(ctx, job_id) == "error"
    (failed,) = [e for e in logs if e["event"] == "job.failed"]
    with ctx.db.session() as session:
        stored = session.get(Job, job_id).error
    assert failed["error"] == stored["message"] and failed["error"]
    assert failed["stage"] == stored["stage"]
