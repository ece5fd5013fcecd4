"""Preparing one original, in a worker process: skip it if done, else fetch, process, store.

A file is *present* when its done marker (``{folder}/moorage-prepare.json``) exists and names
the same original (key, size, etag when known) and the same ``fps``. The marker is written
last, after every derivative (and the original's copy, with ``--originals``), so a run killed
at any point leaves either a complete folder with a marker or a folder that the next run
overwrites. The marker holds the prepared item, so a skipped file costs one read and still
gives its full item.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from moorage.prepare.layout import MARKER_NAME, join
from moorage.prepare.sources import Task
from moorage.storage.base import ObjectNotFound, StorageAdapter, StorageError
from moorage.storage.factory import StorageSpec, build_adapter
from moorage.storage.local import LocalStorage

if TYPE_CHECKING:
    from moorage.media import DerivativeSink

__all__ = ["Outcome", "Plan", "Status", "init_worker", "run_task"]

SNIFF_BYTES = 4096
MARKER_VERSION = 1
Status = Literal["made", "present", "unsupported", "failed"]


@dataclass(frozen=True)
class Plan:
    """What every worker process needs (picklable: specs, not adapters)."""

    fps: float | None = None
    #: where originals are read from when a task has no local path
    source: StorageSpec | None = None
    #: derivatives go to this folder (laid out like the bucket) ...
    out_dir: str | None = None
    #: ... or back into this storage
    dest: StorageSpec | None = None
    #: copy or hard-link local originals to ``out_dir/{key}`` too
    originals: Literal["copy", "link"] | None = None


@dataclass(frozen=True)
class Outcome:
    index: int
    status: Status
    item: dict[str, Any] | None = None
    #: ``{file, stage, message}`` for a failed or unsupported file
    error: dict[str, str] | None = None


class Destination(Protocol):
    def read(self, key: str) -> bytes | None: ...
    def sink(self, folder: str) -> DerivativeSink: ...
    def write(self, key: str, data: bytes) -> None: ...


class FolderDestination:
    """A local folder laid out like the bucket: key ``k`` is the file ``root/k``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def sink(self, folder: str) -> DerivativeSink:
        from moorage.media import DirectorySink

        return DirectorySink(self.root / folder)

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


class _FolderSink:
    """Puts each derivative at ``{folder}/{name}`` of a storage."""

    def __init__(self, adapter: StorageAdapter, folder: str) -> None:
        self.adapter = adapter
        self.folder = folder

    def put(self, name: str, data: bytes, content_type: str) -> None:
        self.adapter.put(join(self.folder, name), data, content_type=content_type)


class StorageDestination:
    def __init__(self, adapter: StorageAdapter) -> None:
        self.adapter = adapter

    def read(self, key: str) -> bytes | None:
        try:
            return self.adapter.read_bytes(key)
        except ObjectNotFound:
            return None

    def sink(self, folder: str) -> DerivativeSink:
        return _FolderSink(self.adapter, folder)

    def write(self, key: str, data: bytes) -> None:
        self.adapter.put(key, data, content_type="application/json")


@dataclass
class _State:
    plan: Plan
    source: StorageAdapter | None
    dest: Destination


_STATE: _State | None = None


def init_worker(plan: Plan) -> None:
    """Build this process's adapters once (a pool initializer, or called inline)."""
    global _STATE
    source = build_adapter(plan.source) if plan.source is not None else None
    dest: Destination
    if plan.out_dir is not None:
        dest = FolderDestination(Path(plan.out_dir))
    elif plan.dest is not None:
        adapter = source if plan.dest == plan.source and source else build_adapter(plan.dest)
        dest = StorageDestination(adapter)
    else:
        raise ValueError("a plan needs out_dir or dest")
    _STATE = _State(plan, source, dest)


def run_task(task: Task) -> Outcome:
    """Prepare one original; never raises for a fault of the file or the storage."""
    state = _STATE
    if state is None:
        raise RuntimeError("init_worker was not called in this process")
    try:
        item = _present(state, task)
        if item is not None:
            _place_original(state.plan, task)
            return Outcome(task.index, "present", item=item)
        return _make(state, task)
    except StorageError as exc:
        return _failed(task, "storage", exc.message)
    except OSError as exc:
        return _failed(task, "read", str(exc))


def _failed(task: Task, stage: str, message: str) -> Outcome:
    where = task.path or task.key
    return Outcome(task.index, "failed", error={"file": where, "stage": stage, "message": message})


def _fingerprint(task: Task, fps: float | None) -> dict[str, Any]:
    return {"key": task.key, "size": task.size, "etag": task.etag, "fps": fps}


def _present(state: _State, task: Task) -> dict[str, Any] | None:
    raw = state.dest.read(join(task.folder, MARKER_NAME))
    if raw is None:
        return None
    try:
        marker = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(marker, dict) or marker.get("version") != MARKER_VERSION:
        return None
    if marker.get("source") != _fingerprint(task, state.plan.fps):
        return None
    item = marker.get("item")
    return item if isinstance(item, dict) else None


def _make(state: _State, task: Task) -> Outcome:
    # the media code (numba, PyAV, pydicom: 1-4 s to import) loads only when a file needs it
    from moorage.media import MediaError

    try:
        return _process(state, task)
    except MediaError as exc:
        return _failed(task, exc.stage, exc.message)


def _process(state: _State, task: Task) -> Outcome:
    from moorage.media import ConcurrentSink, process_slot, sniff_kind
    from moorage.prepare.payload import build_item

    plan = state.plan
    with tempfile.TemporaryDirectory(prefix="moorage-prepare-") as tmp:
        path, head = _fetch_head(state, task)
        kind = sniff_kind(head, os.path.basename(task.key))
        if kind is None:
            message = "not an image, video, PDF, DICOM or NIfTI file"
            status: Status = "failed" if task.explicit else "unsupported"
            error = {"file": task.path or task.key, "stage": "probe", "message": message}
            return Outcome(task.index, status, error=error)
        if path is None:
            path = _download(state, task, Path(tmp))
        sink = state.dest.sink(task.folder)
        if isinstance(state.dest, StorageDestination):
            with ConcurrentSink(sink) as uploads:
                result = process_slot(kind, [path], sink=uploads, fps=plan.fps)
        else:
            result = process_slot(kind, [path], sink=sink, fps=plan.fps)
    item = build_item(
        key=task.key,
        rel=task.rel,
        size=task.size,
        kind=kind,
        result=result,
        folder=task.folder,
        fps=plan.fps,
    )
    _place_original(plan, task)
    marker = {"version": MARKER_VERSION, "source": _fingerprint(task, plan.fps), "item": item}
    state.dest.write(join(task.folder, MARKER_NAME), json.dumps(marker).encode())
    return Outcome(task.index, "made", item=item)


def _fetch_head(state: _State, task: Task) -> tuple[Path | None, bytes]:
    """The original's local path when it has one (``None`` otherwise) and its first bytes."""
    if task.path is None and isinstance(state.source, LocalStorage):
        path: Path | None = state.source.path_for(task.key)
    else:
        path = Path(task.path) if task.path is not None else None
    if path is not None:
        with path.open("rb") as fh:
            return path, fh.read(SNIFF_BYTES)
    assert state.source is not None
    return None, state.source.read_range(task.key, 0, SNIFF_BYTES)


def _download(state: _State, task: Task, folder: Path) -> Path:
    assert state.source is not None
    # the original's own name: some readers go by the extension (.nii.gz)
    path = folder / (os.path.basename(task.key) or "original")
    with state.source.open_read(task.key) as stream, path.open("wb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)
    return path


def _place_original(plan: Plan, task: Task) -> None:
    if plan.originals is None or plan.out_dir is None or task.path is None:
        return
    target = Path(plan.out_dir) / task.key
    source = Path(task.path)
    if target.exists() and target.stat().st_size == task.size:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if plan.originals == "link":
        try:
            target.unlink(missing_ok=True)
            os.link(source, target)
            return
        except OSError:
            pass  # another file system, or links not allowed: copy instead
    shutil.copy2(source, target)
