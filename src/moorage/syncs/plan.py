"""From listed keys to register_existing items: globs, folders, grouping. No DB, no HTTP."""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from moorage.storage.base import ObjectInfo, StorageAdapter, StorageError

__all__ = ["Plan", "Planned", "dicom_series_uid", "folder_of"]

#: where the workers write derivatives: ``[<storage prefix>/]<item id>/files/<slot id>/``
_DERIVATIVE = re.compile(r"(?:^|/)[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}/files/")
#: DICOM headers are read from the first KiB, growing up to this many bytes until the tag shows
_DICOM_READS = (1024, 8192, 65536)


@dataclass
class Planned:
    """One item to register and the keys it is made of."""

    payload: dict[str, Any]
    keys: list[ObjectInfo]


@dataclass
class Plan:
    prefix: str = ""
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    preserve_folders: bool = True
    path: str = "/"
    group: str = "none"

    @classmethod
    def from_spec(cls, prefix: str, spec: dict[str, Any]) -> Plan:
        return cls(
            prefix=prefix,
            include=list(spec.get("include") or []),
            exclude=list(spec.get("exclude") or []),
            preserve_folders=bool(spec.get("preserve_folders", True)),
            path=str(spec.get("path") or "/"),
            group=str(spec.get("group") or "none"),
        )

    def relative(self, key: str) -> str:
        return key[len(self.prefix) :].lstrip("/")

    def wants(self, key: str) -> bool:
        """Under the prefix, not a derivative moorage wrote, and through the globs. A pattern
        without ``/`` matches the file name; one with ``/`` the key relative to the prefix."""
        if not key.startswith(self.prefix) or _DERIVATIVE.search(key):
            return False
        rel = self.relative(key)
        if not rel or rel.endswith("/"):
            return False
        if self.include and not any(_glob(rel, g) for g in self.include):
            return False
        return not any(_glob(rel, g) for g in self.exclude)

    def item_path(self, rel_folder: str) -> str:
        if not self.preserve_folders:
            return self.path
        return "/" + rel_folder.strip("/")

    def groups_done(
        self, keys: Sequence[ObjectInfo], boundary: str | None
    ) -> tuple[list[ObjectInfo], list[ObjectInfo]]:
        """Split new keys into those whose group is complete and those still open: a folder is
        complete once the listing (at ``boundary``, the last key listed) went past it."""
        if self.group == "none" or boundary is None:
            return list(keys), []
        done: list[ObjectInfo] = []
        open_: list[ObjectInfo] = []
        for info in keys:
            folder = folder_of(info.key)
            (open_ if boundary.startswith(folder) else done).append(info)
        return done, open_

    def items(self, keys: Sequence[ObjectInfo], adapter: StorageAdapter) -> list[Planned]:
        if self.group == "none":
            return [self._single(info) for info in keys]
        by_folder: dict[str, list[ObjectInfo]] = {}
        for info in keys:
            by_folder.setdefault(folder_of(info.key), []).append(info)
        if self.group == "folder":
            return [self._folder_item(f, members) for f, members in by_folder.items()]
        return self._series_items(by_folder, adapter)

    def _single(self, info: ObjectInfo) -> Planned:
        rel = self.relative(info.key)
        folder, name = posixpath.split(rel)
        payload = {"name": name, "path": self.item_path(folder), "storage_key": info.key}
        return Planned(payload, [info])

    def _folder_item(self, folder: str, members: list[ObjectInfo]) -> Planned:
        rel = self.relative(folder).strip("/")
        parent, name = posixpath.split(rel)
        slots = [
            {
                "slot_name": posixpath.basename(m.key),
                "storage_key": m.key,
                "file_name": posixpath.basename(m.key),
            }
            for m in members
        ]
        payload = {"name": name or "root", "path": self.item_path(parent), "slots": slots}
        return Planned(payload, list(members))

    def _series_items(
        self, by_folder: dict[str, list[ObjectInfo]], adapter: StorageAdapter
    ) -> list[Planned]:
        every = [m for members in by_folder.values() for m in members]
        workers = max(1, min(32, adapter.max_concurrency, len(every)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            uids = dict(
                zip(
                    (m.key for m in every),
                    pool.map(lambda m: dicom_series_uid(adapter, m.key), every),
                    strict=True,
                )
            )
        out: list[Planned] = []
        for folder, members in by_folder.items():
            series: dict[str, list[ObjectInfo]] = {}
            for m in members:
                uid = uids[m.key]
                if uid is None:  # not DICOM, or no series: an item of its own
                    out.append(self._single(m))
                else:
                    series.setdefault(uid, []).append(m)
            for uid, files in series.items():
                slots = [
                    {
                        "slot_name": "0",
                        "storage_key": f.key,
                        "type": "dicom",
                        "file_name": posixpath.basename(f.key),
                    }
                    for f in files
                ]
                path = self.item_path(self.relative(folder).strip("/"))
                out.append(Planned({"name": uid, "path": path, "slots": slots}, files))
        return out


def _glob(rel: str, pattern: str) -> bool:
    target = rel if "/" in pattern else posixpath.basename(rel)
    return fnmatchcase(target, pattern)


def folder_of(key: str) -> str:
    """``a/b/c.dcm`` -> ``a/b/``; a key at the top -> ``""``."""
    head, sep, _ = key.rpartition("/")
    return head + sep


def dicom_series_uid(adapter: StorageAdapter, key: str) -> str | None:
    """The SeriesInstanceUID from the file's first bytes (1 KiB, more only when needed)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    for size in _DICOM_READS:
        try:
            head = adapter.read_range(key, 0, size)
        except StorageError:
            return None
        try:
            ds = pydicom.dcmread(
                io.BytesIO(head),
                stop_before_pixels=True,
                specific_tags=["SeriesInstanceUID"],
                force=True,
            )
            uid = ds.get("SeriesInstanceUID")
        except (InvalidDicomError, EOFError, ValueError, OSError, KeyError, TypeError):
            uid = None
        if uid:
            return str(uid)
        if len(head) < size:  # the whole file was read
            return None
    return None


def keys_of(planned: Iterable[Planned]) -> list[str]:
    return [info.key for p in planned for info in p.keys]
