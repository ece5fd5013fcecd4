"""What a processing job does: claim, load, run, record.

Idempotent: re-running a job rewrites the same keys and replaces the slot's sections. The run
holds a lease (``leases.py``): results are recorded, in one transaction with the job's
``done``, only while the lease is still this run's, so a worker that was taken for dead never
overwrites the run that replaced it. Each step has its own short session; what passes between
them is plain data (``Work``, ``Outcome``), never an ORM object.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from pathlib import Path

import structlog
from sqlalchemy.orm import Session

from moorage.config import Settings
from moorage.context import AppContext
from moorage.media import ConcurrentSink, Limits, MediaError, dicom_layout_key, process_slot
from moorage.models import StorageConfig
from moorage.ops import metrics
from moorage.storage.base import StorageAdapter, StorageError
from moorage.worker.failure import TransientJobError, WorkRemoved, error_payload
from moorage.worker.leases import JobLost, Lease, Leases, heartbeat_every
from moorage.worker.record import Outcome, finish_item, record_outcome
from moorage.worker.repository import job_repository, work_repository
from moorage.worker.scratch import job_folder
from moorage.worker.sink import StorageSink, derivatives_sink, slot_folder
from moorage.worker.work import Work, read_work_and_storage

__all__ = [
    "TransientJobError",
    "claim",
    "limits_from",
    "load",
    "make_derivatives",
    "process_job",
    "record",
    "run",
]

log = structlog.get_logger(__name__)
#: this logger as the standard library sees it: its level decides before a job's line is built
#: (``moorage.ops.middleware``: a line dropped by level still cost ~40 us to make)
_LEVELS = logging.getLogger(__name__)


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_pages=settings.max_pages_per_slot,
        max_frames=settings.max_frames_per_slot,
        max_slices=settings.max_slices_per_slot,
        max_volume_bytes=settings.max_volume_bytes,
        max_bytes=settings.max_derivative_bytes,
    )


def process_job(
    ctx: AppContext,
    job_id: uuid.UUID,
    *,
    attempt: int | None = None,
    leases: Leases | None = None,
) -> str:
    """Run one job: done, error, skipped (not queued, or a stale message) or lost (taken back
    while it ran). ``attempt``: what the message was sent for. Raises ``TransientJobError``
    after putting the job back to ``queued``."""
    claimed = _claim_and_open(ctx, job_id, attempt=attempt)
    if claimed is None:
        return "skipped"
    token, loaded = claimed
    if loaded is None:  # the item went away: closed as an error when claimed
        return "skipped"
    own = leases is None
    held = leases if leases is not None else Leases(ctx, every=heartbeat_every(ctx.settings))
    try:
        with held.hold(job_id, token) as lease:
            return _leased(ctx, loaded, lease)
    except JobLost:
        log.info("job.lost", job=str(job_id), attempt=token)
        return "lost"
    finally:
        if own:
            held.stop()


def claim(ctx: AppContext, job_id: uuid.UUID, *, attempt: int | None) -> int | None:
    """The job's lease token, or None when it is not queued (for this attempt)."""
    with ctx.db.session() as session:
        return job_repository.claim(session, job_id, attempt=attempt)


def load(ctx: AppContext, job_id: uuid.UUID, token: int) -> Work | None:
    """What the job works on, as plain data; a job whose item went away is closed as an error."""
    with ctx.db.session() as session:
        return _read_or_close(session, job_id, token)


def _read_or_close(session: Session, job_id: uuid.UUID, token: int) -> Work | None:
    read = _read_or_close_with_storage(session, job_id, token)
    return None if read is None else read[0]


def _read_or_close_with_storage(
    session: Session, job_id: uuid.UUID, token: int
) -> tuple[Work, StorageConfig] | None:
    read = read_work_and_storage(session, job_id, token)
    if read is None:
        error = error_payload(WorkRemoved(), key=None)
        job_repository.finish(session, job_id, token=token, status="error", error=error)
    return read


#: the storages a run reads and writes, or why they could not be opened (the job's failure)
Opened = tuple[StorageAdapter, StorageSink] | Exception


def _claim_and_open(
    ctx: AppContext, job_id: uuid.UUID, *, attempt: int | None
) -> tuple[int, tuple[Work, Opened] | None] | None:
    """``claim``, ``load`` and ``run``'s opening of the storages in one unit of work (one
    transaction a job instead of three). What failed to open is handed back, to be recorded
    under the lease as ``run`` would have."""
    with ctx.db.session() as session:
        token = job_repository.claim(session, job_id, attempt=attempt)
        if token is None:
            return None
        read = _read_or_close_with_storage(session, job_id, token)
        if read is None:
            return token, None
        work, storage = read
        try:
            return token, (work, _open_in(session, ctx, work, storage))
        except Exception as exc:  # recorded as the job's failure by the caller
            return token, (work, exc)


def _leased(ctx: AppContext, loaded: tuple[Work, Opened], lease: Lease) -> str:
    work, opened = loaded
    try:
        if isinstance(opened, Exception):
            raise opened
        limits = limits_from(ctx.settings)
        record(
            ctx, work, make_derivatives(work, opened[0], lease=lease, limits=limits, sink=opened[1])
        )
    except (JobLost, TransientJobError):
        raise
    except StorageError as exc:
        metrics.storage_error(work.provider, exc.reason)
        if exc.retryable:
            _requeue(ctx, work)
            raise TransientJobError(exc.message, attempt=work.token) from exc
        return _record_failure(ctx, work, exc)
    except Exception as exc:  # a file at fault, or a bug: fail once, visibly, never loop
        return _record_failure(ctx, work, exc)
    metrics.observe_job(work.kind, "done", time.perf_counter() - work.started)
    if _LEVELS.isEnabledFor(logging.INFO):
        log.info("job.done", job=str(work.job_id), item=str(work.item_id), kind=work.kind)
    return "done"


def run(ctx: AppContext, work: Work, lease: Lease) -> Outcome:
    """Open the storage, read the originals and write the derivatives (unless supplied)."""
    adapter, sink = _open_storages(ctx, work)
    return make_derivatives(work, adapter, lease=lease, limits=limits_from(ctx.settings), sink=sink)


def make_derivatives(
    work: Work,
    adapter: StorageAdapter,
    *,
    lease: Lease,
    limits: Limits,
    sink: StorageSink | None = None,
) -> Outcome:
    """The storage part of a run: no database, so any adapter (``MemoryStorage`` too) serves.
    ``sink``: where the derivatives go (default: the originals' storage, under its prefix)."""
    if sink is None:
        sink = StorageSink(adapter, slot_folder(work.prefix, work.item_id, work.slot_id))
    size = adapter.head(work.storage_key).size
    if work.supplied:
        return Outcome(sink.folder, size, None)
    with job_folder() as tmp:
        paths = [_download(adapter, work, i, tmp) for i in range(len(work.sources))]
        # uploads run on a bounded pool: a video writes two objects per frame
        workers = 8 if sink.adapter.max_concurrency > 1 else 1  # a local disk: inline
        with ConcurrentSink(_LeasedSink(sink, lease), workers=workers, max_pending=64) as uploads:
            result = process_slot(
                work.kind,  # type: ignore[arg-type]
                paths,
                sink=uploads,
                fps=work.fps,
                as_frames=work.as_frames,
                extract_views=work.extract_views,
                progress=lease.report,
                limits=limits,
                streaming=True,
            )
        if work.kind == "dicom":
            result.metadata["layout_key"] = list(dicom_layout_key(paths[0]))
    return Outcome(sink.folder, size, result, derivatives_storage_id=sink.storage_id)


def record(ctx: AppContext, work: Work, outcome: Outcome) -> None:
    """``done`` and the result in one transaction, only while the lease is this run's."""
    with ctx.db.session() as session:
        # lock the item first: the last of its jobs to finish sees all the others done
        work_repository.lock_item(session, work.item_id)
        if not job_repository.finish(session, work.job_id, token=work.token, status="done"):
            raise JobLost(str(work.job_id))  # rolls back: the run that replaced this one records
        record_outcome(session, work, outcome)
        finish_item(session, work.item_id, kind=work.kind)


def _open_storages(ctx: AppContext, work: Work) -> tuple[StorageAdapter, StorageSink]:
    """The originals' adapter and the sink of the derivatives (the same storage, or the
    derivatives storage a read-only one names)."""
    # checked on every job: a local folder whose grant was revoked is refused at once
    with ctx.db.session() as session:
        return _open_in(session, ctx, work)


def _open_in(
    session: Session, ctx: AppContext, work: Work, storage: StorageConfig | None = None
) -> tuple[StorageAdapter, StorageSink]:
    """``storage``: the work's, read with it in this transaction (else read here)."""
    if storage is None:
        storage = work_repository.storage(session, work.storage_id)
    if storage is None:
        raise WorkRemoved()
    adapter = ctx.storages.adapter_for(session, storage)
    sink = derivatives_sink(
        session,
        ctx.storages,
        storage,
        item_id=work.item_id,
        slot_id=work.slot_id,
        originals=adapter,
    )
    return adapter, sink


def _download(adapter: StorageAdapter, work: Work, index: int, folder: Path) -> Path:
    source = work.sources[index]
    path = folder / f"{index:05d}-{Path(source.file_name or 'file').name or 'file'}"
    with adapter.open_read(source.storage_key) as stream, open(path, "wb") as out:
        shutil.copyfileobj(stream, out, length=1 << 20)
    return path


class _LeasedSink:
    """Stops the job at its next upload once its lease is lost."""

    def __init__(self, inner: StorageSink, lease: Lease) -> None:
        self.inner, self.lease = inner, lease

    def put(self, name: str, data: bytes, content_type: str) -> None:
        self.lease.check()
        self.inner.put(name, data, content_type)


def _requeue(ctx: AppContext, work: Work) -> None:
    with ctx.db.session() as session:
        if not job_repository.requeue(session, work.job_id, token=work.token):
            raise JobLost(str(work.job_id))


def _record_failure(ctx: AppContext, work: Work, exc: Exception) -> str:
    """Record the failure on the job and its item (under the lease); ``error`` or ``lost``."""
    if not isinstance(exc, (MediaError, StorageError, WorkRemoved)):
        log.exception("job.crashed", job=str(work.job_id))
    error = error_payload(exc, key=work.first_key)
    with ctx.db.session() as session:
        if not job_repository.finish(
            session, work.job_id, token=work.token, status="error", error=error
        ):
            return "lost"
        job_repository.set_item_status(
            session, work.item_id, processing="error", status="error", error=error
        )
    metrics.observe_job(work.kind, "error", time.perf_counter() - work.started)
    log.warning(
        "job.failed",
        job=str(work.job_id),
        item=str(work.item_id),
        stage=error["stage"],
        reason=error.get("reason"),
        error=error["message"],
    )
    return "error"
