"""The types every media module shares: the error, the sink, and what a slot's processing returns.

Derivative names are relative to a slot's folder and follow V7's layout:
``thumbnail.jpg``, ``sections/high/{n:09d}.{jpg|png}``, ``sections/low/{n:09d}.jpg`` and
``frames_manifest.txt``. Section numbers are 1-based.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from moorage.errors import Failure

__all__ = [
    "THUMBNAIL_NAME",
    "ConcurrentSink",
    "DerivativeSink",
    "DirectorySink",
    "MediaError",
    "MediaKind",
    "MemorySink",
    "Progress",
    "SectionInfo",
    "SlotResult",
    "Stage",
    "hq_name",
    "lq_name",
]

MediaKind = Literal["image", "video", "pdf", "dicom", "nifti"]
#: where processing stopped; ``limits``: the derivatives outgrew ``max_derivative_bytes``
Stage = Literal["probe", "decode", "thumbnail", "frames", "slices", "pages", "limits"]
Progress = Callable[[int, int], None]

THUMBNAIL_NAME = "thumbnail.jpg"
MANIFEST_NAME = "frames_manifest.txt"


class MediaError(Failure):
    """A file that cannot be read or decoded. ``stage`` says where processing stopped.

    Stages: ``probe`` (not a readable file of the kind), ``decode`` (pixels cannot be decoded),
    ``thumbnail``, ``frames`` (video), ``slices`` (DICOM, NIfTI), ``pages`` (PDF).
    Retrying does not help: the file itself is at fault.
    """

    def __init__(self, message: str, *, stage: Stage) -> None:
        super().__init__(message)
        self.stage = stage

    def __str__(self) -> str:
        return f"{self.stage}: {self.message}"


class DerivativeSink(Protocol):
    """Receives each derivative as soon as it is made.

    ``put`` is always called from the thread that called ``process_slot``, one call at a time,
    so a sink need not be thread-safe. Writing the same name twice replaces the first.
    """

    def put(self, name: str, data: bytes, content_type: str) -> None: ...


class MemorySink:
    """A sink that keeps everything in a dict: ``files[name] = (data, content_type)``."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes, content_type: str) -> None:
        with self._lock:
            self.files[name] = (data, content_type)

    def __getitem__(self, name: str) -> bytes:
        return self.files[name][0]

    def __contains__(self, name: object) -> bool:
        return name in self.files

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.files if n.startswith(prefix))


class DirectorySink:
    """A sink that writes each derivative under a local folder, creating subfolders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: set[Path] = set()

    def put(self, name: str, data: bytes, content_type: str) -> None:
        path = self.root / name
        if path.parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        path.write_bytes(data)


class ConcurrentSink:
    """Passes each ``put`` to a thread pool, for sinks that wait on the network.

    A video makes two files per frame; one at a time, 30-50 ms each on S3, the uploads would
    take longer than the processing. Use as a context manager around ``process_slot``: leaving
    it waits for every upload and re-raises the first failure (a later ``put`` raises it
    early). At most ``max_pending`` uploads are queued, so memory stays bounded. With
    ``workers=1`` (a local disk, which answers faster than a thread is started) each ``put``
    runs in the caller's thread.
    """

    def __init__(self, inner: DerivativeSink, *, workers: int = 8, max_pending: int = 64) -> None:
        self.inner = inner
        self._pool = (
            ThreadPoolExecutor(workers, thread_name_prefix="moorage-sink") if workers > 1 else None
        )
        self._slots = threading.BoundedSemaphore(max_pending)
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    def put(self, name: str, data: bytes, content_type: str) -> None:
        self._raise_error()
        if self._pool is None:
            self.inner.put(name, data, content_type)
            return
        self._slots.acquire()
        future = self._pool.submit(self.inner.put, name, data, content_type)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)
            if self._error is None and not future.cancelled():
                self._error = future.exception()
        self._slots.release()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Wait for every queued upload; raise the first failure."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._raise_error()

    def __enter__(self) -> ConcurrentSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            return
        self.close()


@dataclass(slots=True)
class SectionInfo:
    """One section of a slot: a page, a frame or a slice. ``index`` is 1-based."""

    index: int
    width: int
    height: int
    hq_name: str
    lq_name: str | None = None


@dataclass
class SlotResult:
    """What processing one slot produced. ``metadata`` is JSON-serialisable slot metadata."""

    width: int
    height: int
    total_sections: int
    metadata: dict[str, Any] = field(default_factory=dict)
    sections: list[SectionInfo] = field(default_factory=list)
    thumbnail_name: str | None = THUMBNAIL_NAME


def hq_name(index: int, ext: str = "jpg") -> str:
    return f"sections/high/{index:09d}.{ext}"


def lq_name(index: int) -> str:
    return f"sections/low/{index:09d}.jpg"
