"""What a processing job does: read the originals, make derivatives, record the result.

Idempotent: re-running a job rewrites the same keys and replaces the slot's sections. The run
holds a lease (``leases.py``): results are recorded, in one transaction with the job's
``done``, only while the lease is still this run's, so a worker that was taken for dead never
overwrites the run that replaced it. Messages stored on the item never carry this worker's
temporary paths.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.orm import Session

from moorage.config import Settings
from moorage.context import AppContext
from moorage.media import (
    ConcurrentSink,
    LimitExceeded,
    Limits,
    MediaError,
    SlotResult,
    dicom_layout_key,
    process_slot,
)
from moorage.models import Item, Section, Slot, StorageConfig
from moorage.ops import metrics
from moorage.storage.base import StorageAdapter, StorageError
from moorage.worker.leases import JobLost, Lease, Leases, heartbeat_every
from moorage.worker.repository import job_repository, work_repository
from moorage.worker.sink import StorageSink, slot_folder

log = structlog.get_logger(__name__)

#: a path inside a job's temporary folder: ``<tmp>/moorage-job-<random>/<nnnnn>-``
_TEMP_PATH = re.compile(r"(?:/[^\s'\"/]+)*/moorage-job-[^/\s'\"]+/(?:\d{5}-)?")


class TransientJobError(Exception):
    """The storage failed in a way worth retrying; the job went back to ``queued``."""

    def __init__(self, reason: str, *, attempt: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempt = attempt


def scrub_paths(message: str) -> str:
    """The message without this worker's temporary folders (a file keeps its own name)."""
    return _TEMP_PATH.sub("", message)


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_pages=settings.max_pages_per_slot,
        max_frames=settings.max_frames_per_slot,
        max_slices=settings.max_slices_per_slot,
        max_volume_bytes=settings.max_volume_bytes,
        max_bytes=settings.max_derivative_bytes,
    )


@dataclass
class _Work:
    job_id: uuid.UUID
    token: int
    item: Item
    slot: Slot
    storage: StorageConfig
    sources: list[dict[str, str]]
    supplied: bool
    started: float = field(default_factory=time.perf_counter)


def _supplied(session: Session, slot: Slot) -> bool:
    """The caller gave every derivative: use them as given, regenerate nothing."""
    if not slot.storage_thumbnail_key:
        return False
    if slot.kind == "image":
        return bool(slot.meta.get("width"))
    rows = work_repository.sections(session, slot.id)
    return bool(rows) and all(r.storage_hq_key and r.storage_lq_key for r in rows)


def _load(session: Session, job_id: uuid.UUID, token: int) -> _Work | None:
    job = job_repository.get(session, job_id)
    if job is None:
        return None
    slot = work_repository.slot(session, job.slot_id)
    item = work_repository.item(session, job.item_id)
    if slot is None or item is None or item.storage_id is None:
        return None
    storage = work_repository.storage(session, item.storage_id)
    if storage is None:
        return None
    sources = work_repository.source_files(slot)
    return _Work(job_id, token, item, slot, storage, sources, _supplied(session, slot))


def _download(adapter: StorageAdapter, key: str, target: Path) -> None:
    with adapter.open_read(key) as stream, open(target, "wb") as out:
        shutil.copyfileobj(stream, out, length=1 << 20)


class _LeasedSink:
    """Stops the job at its next upload once its lease is lost."""

    def __init__(self, inner: StorageSink, lease: Lease) -> None:
        self.inner, self.lease = inner, lease

    def put(self, name: str, data: bytes, content_type: str) -> None:
        self.lease.check()
        self.inner.put(name, data, content_type)


def _run_media(
    ctx: AppContext, work: _Work, adapter: StorageAdapter, sink: StorageSink, lease: Lease
) -> SlotResult:
    with tempfile.TemporaryDirectory(prefix="moorage-job-") as tmp:
        paths: list[Path] = []
        for i, source in enumerate(work.sources):
            name = Path(source.get("file_name") or "file").name or "file"
            path = Path(tmp) / f"{i:05d}-{name}"
            _download(adapter, source["storage_key"], path)
            paths.append(path)
        # uploads run on a bounded pool: a video writes two objects per frame
        with ConcurrentSink(_LeasedSink(sink, lease), workers=8, max_pending=64) as uploads:
            result = process_slot(
                work.slot.kind,  # type: ignore[arg-type]
                paths,
                sink=uploads,
                fps=work.slot.fps,
                as_frames=work.slot.as_frames,
                extract_views=work.slot.extract_views,
                progress=lease.report,
                limits=limits_from(ctx.settings),
            )
        if work.slot.kind == "dicom":
            result.metadata["layout_key"] = list(dicom_layout_key(paths[0]))
        return result


def _record(
    session: Session, work: _Work, result: SlotResult, sink: StorageSink, size: int | None
) -> None:
    slot = work_repository.slot(session, work.slot.id)
    assert slot is not None
    meta: dict[str, Any] = {
        **slot.meta,
        **result.metadata,
        "width": result.width,
        "height": result.height,
    }
    slot.meta = meta
    slot.total_sections = result.total_sections
    if size is not None and slot.size_bytes is None:
        slot.size_bytes = size
    if not slot.storage_thumbnail_key and result.thumbnail_name:
        slot.storage_thumbnail_key = sink.key(result.thumbnail_name)
    work_repository.replace_sections(
        session,
        slot.id,
        [
            Section(
                slot_id=slot.id,
                section_index=s.index,
                storage_hq_key=sink.key(s.hq_name),
                storage_lq_key=sink.key(s.lq_name) if s.lq_name else None,
                width=s.width,
                height=s.height,
            )
            for s in result.sections
        ],
    )
    session.flush()


def _finish_item(session: Session, item_id: uuid.UUID) -> None:
    statuses = job_repository.item_job_statuses(session, item_id)
    if statuses and all(s == "done" for s in statuses):
        _arrange_dicom_layout(session, item_id)
        job_repository.set_item_status(session, item_id, processing="complete", status="new")


def _arrange_dicom_layout(session: Session, item_id: uuid.UUID) -> None:
    """Without ``ignore_dicom_layout``, order a multi-slot DICOM item by the files' metadata."""
    item = work_repository.item(session, item_id)
    assert item is not None
    if item.options.get("ignore_dicom_layout"):
        return
    slots = work_repository.slots_of(session, item_id)
    if len(slots) < 2 or any(s.kind != "dicom" for s in slots):
        return
    ordered = sorted(slots, key=lambda s: (s.meta.get("layout_key") or [], s.position))
    names = [s.slot_name for s in ordered]
    if item.layout.get("version") == 1 and item.layout.get("slots") != names:
        item.layout = {**item.layout, "slots": names}


def _fail(ctx: AppContext, work: _Work, error: dict[str, Any]) -> str:
    error = {**error, "message": scrub_paths(str(error["message"]))}
    with ctx.db.session() as session:
        if not job_repository.finish(
            session, work.job_id, token=work.token, status="error", error=error
        ):
            return "lost"
        job_repository.set_item_status(
            session, work.item.id, processing="error", status="error", error=error
        )
    metrics.observe_job(work.slot.kind, "error", time.perf_counter() - work.started)
    log.warning("job.failed", job=str(work.job_id), item=str(work.item.id), stage=error["stage"])
    return "error"


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
    with ctx.db.session() as session:
        token = job_repository.claim(session, job_id, attempt=attempt)
    if token is None:
        return "skipped"
    own = leases is None
    held = leases if leases is not None else Leases(ctx, every=heartbeat_every(ctx.settings))
    try:
        with held.hold(job_id, token) as lease:
            return _process(ctx, job_id, lease)
    except JobLost:
        log.info("job.lost", job=str(job_id), attempt=token)
        return "lost"
    finally:
        if own:
            held.stop()


def _process(ctx: AppContext, job_id: uuid.UUID, lease: Lease) -> str:
    with ctx.db.session() as session:
        work = _load(session, job_id, lease.token)
        if work is None:
            error = {"message": "item removed", "stage": "load"}
            job_repository.finish(session, job_id, token=lease.token, status="error", error=error)
            return "skipped"
    key = work.sources[0]["storage_key"]
    try:
        with ctx.db.session() as session:
            # checked on every job: a local folder whose grant was revoked is refused at once
            adapter = ctx.storages.adapter_for(session, work.storage)
        sink = StorageSink(adapter, slot_folder(work.storage.prefix, work.item.id, work.slot.id))
        size = adapter.head(work.slot.storage_key).size
        result = None if work.supplied else _run_media(ctx, work, adapter, sink, lease)
        with ctx.db.session() as session:
            # lock the item first: the last of its jobs to finish sees all the others done
            work_repository.item(session, work.item.id, lock=True)
            if not job_repository.finish(session, job_id, token=lease.token, status="done"):
                raise JobLost(str(job_id))  # rolls back: the run that replaced this one records
            if result is None:
                _record_size(session, work, size)
            else:
                _record(session, work, result, sink, size)
            _finish_item(session, work.item.id)
    except LimitExceeded as exc:
        error = {"message": exc.message, "stage": exc.stage, "storage_key": key}
        return _fail(ctx, work, {**error, "reason": "limit_exceeded", "limit": exc.limit})
    except MediaError as exc:
        return _fail(ctx, work, {"message": exc.message, "stage": exc.stage, "storage_key": key})
    except StorageError as exc:
        metrics.storage_error(work.storage.provider, exc.reason)
        if exc.retryable:
            with ctx.db.session() as session:
                if not job_repository.requeue(session, job_id, token=lease.token):
                    raise JobLost(str(job_id)) from exc
            raise TransientJobError(exc.message, attempt=lease.token) from exc
        error = {"message": exc.message, "stage": "read", "storage_key": exc.key or key}
        return _fail(ctx, work, {**error, "reason": exc.reason})
    except (JobLost, TransientJobError):
        raise
    except Exception as exc:  # a bug or an unforeseen file: fail once, visibly, never loop
        log.exception("job.crashed", job=str(job_id))
        message = f"Unexpected {type(exc).__name__} while processing."
        return _fail(ctx, work, {"message": message, "stage": "internal", "storage_key": key})
    metrics.observe_job(work.slot.kind, "done", time.perf_counter() - work.started)
    log.info("job.done", job=str(job_id), item=str(work.item.id), kind=work.slot.kind)
    return "done"


def _record_size(session: Session, work: _Work, size: int | None) -> None:
    slot = work_repository.slot(session, work.slot.id)
    if slot is not None and slot.size_bytes is None:
        slot.size_bytes = size
