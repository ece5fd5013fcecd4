"""Checks against a storage: many keys' existence at once, and a connection's permissions.

``check_existence`` answers ``StorageAdapter.check_many``; ``check_permissions`` is the
connection check. Keys that crowd under one folder are
answered by listing it page by page and intersecting (1 request per 1000 keys instead of 1000),
the rest by concurrent heads on a bounded pool. A storage outage trips a breaker, so the keys
still waiting are blocked with ``StorageUnavailable`` at once instead of each waiting out its
own timeouts.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Protocol

from moorage.storage.errors import (
    AccessDenied,
    BucketNotFound,
    InvalidCredentials,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)
from moorage.storage.objects import ListPage, ObjectInfo, join_key

__all__ = [
    "ExistencePlan",
    "PermissionCheck",
    "check_existence",
    "check_permissions",
]

Permission = Literal["list", "read", "write", "delete"]


class Checkable(Protocol):
    """The part of ``base.StorageAdapter`` the checks use (``base`` imports this module)."""

    @property
    def provider(self) -> str: ...
    @property
    def max_concurrency(self) -> int: ...
    @property
    def list_for_existence(self) -> bool: ...
    def check_key(self, key: str) -> str: ...
    def head(self, key: str) -> ObjectInfo: ...
    def read_range(self, key: str, start: int, end: int) -> bytes: ...
    def read_bytes(self, key: str) -> bytes: ...
    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None: ...
    def delete(self, key: str) -> None: ...
    def list_page(
        self, prefix: str, *, cursor: str | None = None, limit: int = 1000
    ) -> ListPage: ...


@dataclass(frozen=True, slots=True)
class ExistencePlan:
    """Tuning of ``check_existence``; the defaults suit S3, Azure Blob and GCS alike."""

    #: a folder holding at least this many of the keys is listed rather than headed
    list_min_keys: int = 64
    #: listing stops (and heads take over) once it has scanned this many objects per key sought
    scan_factor: float = 2.0
    page_size: int = 1000
    #: consecutive outage errors that trip the breaker for the rest of the call
    breaker_threshold: int = 8
    #: wall-clock bound of the whole call, in seconds
    deadline: float = 300.0


DEFAULT_PLAN = ExistencePlan()


class _Breaker:
    """Counts consecutive outage errors across worker threads; trips once at the threshold."""

    def __init__(self, threshold: int, deadline: float) -> None:
        self._threshold = threshold
        self._deadline = time.monotonic() + deadline
        self._lock = threading.Lock()
        self._streak = 0
        self.tripped: StorageUnavailable | None = None

    def blocked(self, key: str) -> StorageUnavailable | None:
        if self.tripped is not None:
            return StorageUnavailable(
                f"Not checked: the storage is unreachable ({self.tripped.message})", key=key
            )
        if time.monotonic() > self._deadline:
            return StorageUnavailable(
                "Not checked: the storage did not answer within the time allowed.", key=key
            )
        return None

    def record(self, error: StorageError | None) -> None:
        with self._lock:
            if isinstance(error, StorageUnavailable):
                self._streak += 1
                if self._streak >= self._threshold and self.tripped is None:
                    self.tripped = error
            else:
                self._streak = 0


def _folder(key: str) -> str:
    head, sep, _ = key.rpartition("/")
    return head + sep


def check_existence(
    adapter: Checkable, keys: Iterable[str], *, plan: ExistencePlan = DEFAULT_PLAN
) -> dict[str, StorageError | None]:
    """Existence of every key: ``None`` when present, else the error that blocks it."""
    unique = list(dict.fromkeys(keys))
    results: dict[str, StorageError | None] = {}
    valid: list[str] = []
    for key in unique:
        try:
            adapter.check_key(key)
        except StorageError as exc:
            results[key] = exc
        else:
            valid.append(key)

    breaker = _Breaker(plan.breaker_threshold, plan.deadline)

    def head_one(key: str) -> StorageError | None:
        blocked = breaker.blocked(key)
        if blocked is not None:
            return blocked
        try:
            adapter.head(key)
            error: StorageError | None = None
        except StorageError as exc:
            error = exc
        except Exception as exc:  # a library error the adapter failed to map: block, not crash
            error = StorageError(f"Checking the key failed ({type(exc).__name__}).", key=key)
        breaker.record(error)
        return error

    groups: dict[str, list[str]] = defaultdict(list)
    singles: list[str] = []
    if adapter.list_for_existence:
        for key in valid:
            groups[_folder(key)].append(key)
        for folder in [f for f, members in groups.items() if len(members) < plan.list_min_keys]:
            singles.extend(groups.pop(folder))
    else:
        singles = valid

    def list_group(members: list[str]) -> tuple[dict[str, StorageError | None], list[str]]:
        return _list_group(adapter, sorted(members), plan, breaker)

    workers = max(1, min(adapter.max_concurrency, len(valid)))
    if workers == 1:
        for members in groups.values():
            resolved, rest = list_group(members)
            results.update(resolved)
            singles.extend(rest)
        results.update((key, head_one(key)) for key in singles)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="storage-check") as pool:
            group_futures = [pool.submit(list_group, m) for m in groups.values()]
            single_results = pool.map(head_one, singles)
            leftovers: list[str] = []
            for future in group_futures:
                resolved, rest = future.result()
                results.update(resolved)
                leftovers.extend(rest)
            # keys a listing did not settle go back to the pool, not to one thread
            results.update(zip(leftovers, pool.map(head_one, leftovers), strict=True))
            results.update(zip(singles, single_results, strict=True))
    return {key: results[key] for key in unique}


def _list_group(
    adapter: Checkable,
    members: list[str],
    plan: ExistencePlan,
    breaker: _Breaker,
) -> tuple[dict[str, StorageError | None], list[str]]:
    """Answer sorted keys of one folder by listing their common prefix, within a page budget.

    Returns the keys settled and those left to heads: the ones the listing did not reach
    within the budget, or all when listing is refused (read-only credentials often lack it).
    """
    # a character-wise common prefix, not a path: it narrows the listing as far as it can
    prefix = os.path.commonprefix(members)  # noqa: RUF071
    budget = max(2, math.ceil(len(members) * plan.scan_factor / plan.page_size) + 1)
    wanted = set(members)
    found: set[str] = set()
    cursor: str | None = None
    last_seen: str | None = None
    complete = False
    for _ in range(budget):
        if breaker.blocked(members[0]) is not None:
            return {key: breaker.blocked(key) for key in members}, []
        try:
            page = adapter.list_page(prefix, cursor=cursor, limit=plan.page_size)
        except StorageUnavailable as exc:
            breaker.record(exc)
            return {key: StorageUnavailable(exc.message, key=key) for key in members}, []
        except (BucketNotFound, InvalidCredentials) as exc:
            return {key: type(exc)(exc.message, key=key) for key in members}, []
        except StorageError:
            break  # e.g. no right to list: heads may still be allowed
        found.update(o.key for o in page.objects if o.key in wanted)
        if page.objects:
            last_seen = page.objects[-1].key
        cursor = page.next_cursor
        if cursor is None:
            complete = True
            break
    out: dict[str, StorageError | None] = {}
    rest: list[str] = []
    for key in members:
        if key in found:
            out[key] = None
        elif complete or (last_seen is not None and key < last_seen):
            out[key] = ObjectNotFound("No object at this storage key.", key=key)
        else:
            rest.append(key)
    return out, rest


# --- connection check ------------------------------------------------------------------------

PROBE_BODY = b"moorage connection check\n"

_HINTS: dict[type[StorageError], str] = {
    InvalidCredentials: "check the access key / account key / service account of this storage",
    BucketNotFound: "check the bucket (or Azure container) name and the region",
    AccessDenied: "grant this permission on the prefix to the credentials in use",
    StorageUnavailable: "check the endpoint URL, and that the storage is up and reachable from "
    "the server",
}

#: errors that make every later check fail the same way: report them once, skip the requests
_FATAL = (InvalidCredentials, BucketNotFound, StorageUnavailable)


@dataclass(frozen=True, slots=True)
class PermissionCheck:
    permission: Permission
    ok: bool
    reason: str | None = None
    message: str | None = None


#: a local storage's bucket is a folder on the server: no name, region or endpoint to check
_LOCAL_HINTS: dict[type[StorageError], str] = {
    BucketNotFound: "create the folder, or point the storage's bucket at an existing one; "
    "moorage never creates it",
}


def _failed_check(permission: Permission, exc: StorageError, provider: str) -> PermissionCheck:
    hints = {**_HINTS, **_LOCAL_HINTS} if provider == "local" else _HINTS
    hint = next((h for cls, h in hints.items() if isinstance(exc, cls)), None)
    message = f"Cannot {permission}: {exc.message}"
    if hint and hint not in message:
        message = f"{message} ({hint})"
    return PermissionCheck(permission, ok=False, reason=exc.reason, message=message)


class _NotChecked(Exception):
    """A check that could not run because the one it depends on failed."""


def check_permissions(adapter: Checkable, *, prefix: str, readonly: bool) -> list[PermissionCheck]:
    """Whether moorage can list and read (and, read-write, write and delete) under ``prefix``.

    Read-write storage gets a probe object written, read back and deleted under the prefix.
    """
    order: list[Permission] = ["list", "read"] if readonly else ["list", "write", "read", "delete"]
    checks: dict[Permission, PermissionCheck] = {}
    state = _ProbeState(adapter, prefix=prefix, readonly=readonly)
    fatal: StorageError | None = None
    for permission in order:
        if fatal is not None:
            checks[permission] = _failed_check(permission, fatal, adapter.provider)
            continue
        try:
            message = state.run(permission)
        except _NotChecked as exc:
            checks[permission] = PermissionCheck(
                permission, ok=False, reason="NOT_CHECKED", message=str(exc)
            )
        except StorageError as exc:
            if isinstance(exc, _FATAL):
                fatal = exc
            checks[permission] = _failed_check(permission, exc, adapter.provider)
        else:
            checks[permission] = PermissionCheck(permission, ok=True, message=message)
    if state.wrote and not checks["delete"].ok:
        # leave nothing behind when delete failed but the write went through
        with contextlib.suppress(StorageError):
            adapter.delete(state.probe)
    return [checks[p] for p in ("list", "read", "write", "delete") if p in checks]


class _ProbeState:
    def __init__(self, adapter: Checkable, *, prefix: str, readonly: bool) -> None:
        self.adapter = adapter
        self.prefix = prefix
        self.readonly = readonly
        self.probe = join_key(prefix, f".moorage-check-{uuid.uuid4().hex}")
        self.sample: str | None = None
        self.wrote = False

    def run(self, permission: Permission) -> str | None:
        """Run one permission's probe; returns an informational message, raises on failure."""
        adapter = self.adapter
        if permission == "list":
            page = adapter.list_page(self.prefix, limit=1)
            self.sample = page.objects[0].key if page.objects else None
            return None
        if permission == "write":
            adapter.put(self.probe, PROBE_BODY, content_type="text/plain")
            self.wrote = True
            return None
        if permission == "read":
            return self._read()
        if not self.wrote:
            raise _NotChecked("Not checked: there is no probe object to delete (write failed).")
        adapter.delete(self.probe)
        try:
            adapter.head(self.probe)
        except ObjectNotFound:
            return None
        raise AccessDenied("The probe object is still there after deleting it.")

    def _read(self) -> str | None:
        adapter = self.adapter
        if not self.readonly:
            if not self.wrote:
                raise _NotChecked("Not checked: there is no probe object to read (write failed).")
            if adapter.read_bytes(self.probe) != PROBE_BODY:
                raise StorageError("The probe object read back differs from what was written.")
            return None
        if self.sample is not None:
            adapter.read_range(self.sample, 0, 1)
            return None
        try:
            adapter.head(self.probe)
        except ObjectNotFound:
            return "No object under the prefix to read; the storage answered 'not found'."
        return None
