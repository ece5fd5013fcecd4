"""``moorage prepare``: make the derivatives of originals for **read-only** storage.

On read-only storage moorage cannot write thumbnails and frames, so the caller supplies them
(``storage_thumbnail_key``, ``width``, ``height``, ``sections``). ``prepare`` runs the same
media processing as the worker, on this machine's cores, for local files and folders or for
the objects under a storage prefix, and writes the results laid out as ``layout`` describes:
into a local folder to upload (``--out``) or back into the storage. It returns the
``register_existing`` items with every read-only field filled in. docs/prepare.md is the guide.
"""

from __future__ import annotations

from pathlib import Path

from moorage.prepare.layout import (
    DEFAULT_DERIVATIVES_PREFIX,
    MARKER_NAME,
    OptionError,
    check_prefix,
    derivative_folder,
)
from moorage.prepare.run import Report, run
from moorage.prepare.sources import Task, local_tasks, storage_tasks
from moorage.prepare.work import Plan

__all__ = [
    "DEFAULT_DERIVATIVES_PREFIX",
    "MARKER_NAME",
    "OptionError",
    "Plan",
    "Report",
    "Task",
    "check_prefix",
    "derivative_folder",
    "local_tasks",
    "prepare",
    "run",
    "storage_tasks",
]


def prepare(
    paths: list[Path],
    out_dir: Path,
    *,
    key_prefix: str = "",
    derivatives_prefix: str = DEFAULT_DERIVATIVES_PREFIX,
    fps: float | None = None,
    jobs: int | None = 1,
    quiet: bool = True,
) -> Report:
    """Prepare local files and folders into ``out_dir`` (laid out like the bucket)."""
    key_prefix = check_prefix(key_prefix, option="key_prefix")
    tasks = local_tasks(
        paths, key_prefix=key_prefix, derivatives_prefix=derivatives_prefix, skip=out_dir
    )
    plan = Plan(fps=fps, out_dir=str(out_dir.resolve()))
    return run(tasks, plan, jobs=jobs, quiet=quiet)
