"""What ``moorage prepare`` works on: local files and folders, or the keys under a prefix.

Each original becomes one ``Task``: its storage key, where to read it, and the folder its
derivatives go to. Folders are walked recursively in name order; a folder's files keep their
path below it (``DIR/a/b.jpg`` is key ``{key_prefix}/a/b.jpg`` and item path ``/a``).
Derivatives folders and done markers are never taken for originals.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from moorage.prepare.layout import MARKER_NAME, derivative_folder, join
from moorage.storage.base import StorageAdapter

__all__ = ["Task", "local_tasks", "storage_tasks"]


@dataclass(frozen=True, slots=True)
class Task:
    """One original to prepare. ``path`` is set for a local file, else ``key`` is read from
    the source storage. ``explicit``: named on the command line, so not being media is an
    error (a file found in a folder or a listing that is not media is only counted)."""

    index: int
    key: str
    rel: str
    size: int
    folder: str
    path: str | None = None
    etag: str | None = None
    explicit: bool = False


def _walk(root: Path, skip: Path | None) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if skip is None or (here / d).resolve() != skip)
        for name in sorted(filenames):
            if name != MARKER_NAME:
                yield here / name


def local_tasks(
    paths: list[Path],
    *,
    key_prefix: str,
    derivatives_prefix: str,
    skip: Path | None = None,
) -> Iterator[Task | tuple[str, str]]:
    """A ``Task`` per file, or ``(path, message)`` for a path that cannot be used.

    ``skip`` (the output folder) is not walked when it lies inside a folder given."""
    seen: dict[str, str] = {}
    index = 0
    skip = skip.resolve() if skip is not None else None
    for given in paths:
        found: Iterator[tuple[Path, str, bool]]
        if given.is_dir():
            found = ((p, p.relative_to(given).as_posix(), False) for p in _walk(given, skip))
        elif given.is_file():
            found = iter([(given, given.name, True)])
        else:
            yield (str(given), "no such file or folder")
            continue
        for path, rel, explicit in found:
            key = join(key_prefix, rel)
            if key in seen:
                yield (str(path), f"same storage key {key!r} as {seen[key]}")
                continue
            seen[key] = str(path)
            folder = derivative_folder(key, derivatives_prefix)
            size = path.stat().st_size
            yield Task(index, key, rel, size, folder, path=str(path), explicit=explicit)
            index += 1


def storage_tasks(
    adapter: StorageAdapter, *, prefix: str, derivatives_prefix: str, container_in_key: bool
) -> Iterator[Task]:
    """A ``Task`` per object under ``prefix``, page by page, skipping the derivatives."""
    list_prefix = prefix + "/" if prefix else ""
    cursor: str | None = None
    index = 0
    while True:
        page = adapter.list_page(list_prefix, cursor=cursor)
        for obj in page.objects:
            if _is_derivative(obj.key, derivatives_prefix, container_in_key=container_in_key):
                continue
            folder = derivative_folder(
                obj.key, derivatives_prefix, container_in_key=container_in_key
            )
            rel = obj.key[len(list_prefix) :]
            yield Task(index, obj.key, rel, obj.size, folder, etag=obj.etag)
            index += 1
        cursor = page.next_cursor
        if not cursor:
            return


def _is_derivative(key: str, derivatives_prefix: str, *, container_in_key: bool) -> bool:
    if container_in_key and "/" in key:
        key = key.split("/", 1)[1]
    return key.startswith(derivatives_prefix + "/") or key.endswith("/" + MARKER_NAME)
