"""Where a job downloads its originals: one folder per worker thread, emptied after each job.

A ``TemporaryDirectory`` a job (a ``mkdir``, then ``rmtree``'s walk of it: ~0.17 ms of CPU) was
more than a small image's download itself. A thread runs one job at a time, so its folder
holds one job's files; they are removed when the job ends, whatever happened to it. The
folder is named ``moorage-job-<random>`` as before, so ``failure.scrub_paths`` still takes it
out of error messages; a folder removed meanwhile (a temp cleaner) is made again.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["job_folder"]

_local = threading.local()
_made: set[str] = set()
_made_lock = threading.Lock()


def _folder() -> Path:
    path: str | None = getattr(_local, "path", None)
    if path is None or not os.path.isdir(path):
        path = tempfile.mkdtemp(prefix="moorage-job-")
        _local.path = path
        with _made_lock:
            _made.add(path)
    return Path(path)


def _empty(folder: Path) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)


@contextmanager
def job_folder() -> Iterator[Path]:
    """This thread's scratch folder, empty; emptied again when the job leaves it."""
    folder = _folder()
    try:
        yield folder
    finally:
        try:
            _empty(folder)
        except OSError:  # whatever could not be removed goes with the folder; the next job
            shutil.rmtree(folder, ignore_errors=True)  # makes a new one
            _local.path = None


@atexit.register
def _remove_all() -> None:
    with _made_lock:
        for path in _made:
            shutil.rmtree(path, ignore_errors=True)
        _made.clear()
