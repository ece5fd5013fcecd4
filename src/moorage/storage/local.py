"""A folder on the server's disk as storage.

``bucket`` names a folder inside the folders a team may use: its own ``<root>/<team-slug>/`` in
each of the operator's allowed roots, and the folders the operator granted it. Every key is
resolved (symlinks included) and must stay inside the storage's folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from moorage.storage.base import (
    AccessDenied,
    BucketNotFound,
    InvalidKey,
    ListPage,
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    StorageAdapter,
    StorageError,
    validate_key,
)

__all__ = [
    "NAME_MAX",
    "PATH_MAX",
    "FolderNotAllowed",
    "LocalStorage",
    "resolve_local_bucket",
    "team_areas",
]

#: the longest name of one path component, in bytes (Linux, macOS and Windows agree)
NAME_MAX = 255
#: the longest path the kernel takes, in bytes, terminating NUL included (Linux)
PATH_MAX = 4096


def _first(pair: tuple[str, object]) -> str:
    return pair[0]


class FolderNotAllowed(AccessDenied):
    """The folder is outside every folder this team may use (or stopped being inside one)."""

    reason = "STORAGE_FOLDER_NOT_ALLOWED"


def team_areas(roots: Sequence[Path], team_slug: str) -> list[Path]:
    """``<root>/<team-slug>`` of each allowed root, the roots resolved.

    The team's own folder is joined, not resolved: a symlink in its place leads out of the
    team's area and is refused like any other (the operator grants such folders instead).
    """
    return [Path(os.path.realpath(r)) / team_slug for r in roots]


def _check_name(bucket: str) -> bytes:
    if not bucket:
        raise InvalidKey("The local bucket is empty.")
    if "\x00" in bucket:
        raise InvalidKey("The local bucket contains a NUL character.")
    try:
        raw = bucket.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKey("The local bucket is not valid UTF-8 text.") from None
    longest = max(len(part) for part in raw.split(b"/"))
    if longest > NAME_MAX:
        raise InvalidKey(
            f"A folder name in the local bucket is {longest} bytes long; "
            f"at most {NAME_MAX} are allowed."
        )
    if ".." in Path(bucket).parts:
        raise InvalidKey("The local bucket contains a '..' segment.")
    return raw


def resolve_local_bucket(bucket: str, folders: Sequence[Path]) -> Path:
    """The folder a local storage's ``bucket`` names, refusing anything outside ``folders``.

    ``folders`` are the resolved folders the storage may use; a relative bucket is a folder under
    the first, an absolute one must resolve (symlinks included) inside one of them. Raises
    ``InvalidKey`` for a name no folder can have and ``FolderNotAllowed`` for one outside.
    """
    _check_name(bucket)
    if not folders:
        raise FolderNotAllowed("No local folder is allowed for this storage.")
    candidate = Path(bucket)
    if not candidate.is_absolute():
        candidate = folders[0] / candidate
    try:
        real = Path(os.path.realpath(candidate))
    except (OSError, ValueError):
        raise InvalidKey("The local bucket cannot be resolved to a folder.") from None
    if len(os.fsencode(real)) >= PATH_MAX:
        raise InvalidKey(f"The local bucket's path is longer than {PATH_MAX - 1} bytes.")
    for folder in folders:
        if real == folder or real.is_relative_to(folder):
            return real
    allowed = ", ".join(str(f) for f in folders)
    raise FolderNotAllowed(
        f"The local bucket {bucket!r} is outside this team's folders ({allowed}); a relative "
        f"bucket is a folder under {folders[0]}. Ask the operator to grant another folder "
        "(moorage admin grant-folder)."
    )


class LocalStorage(StorageAdapter):
    provider = "local"
    # stat() on a local disk is faster than handing it to a thread pool
    max_concurrency = 1

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self._root_str = str(self.root) + os.sep

    def path_for(self, key: str) -> Path:
        validate_key(key)
        real = os.path.realpath(os.path.join(self.root, key))
        if not real.startswith(self._root_str):
            raise InvalidKey(f"The storage key {key!r} leaves the storage folder.", key=key)
        return Path(real)

    def local_path(self, key: str) -> Path:
        path = self.path_for(key)
        self.head(key)
        return path

    def _ensure_root(self) -> None:
        if not self.root.is_dir():
            raise BucketNotFound(f"The storage folder {self.root} does not exist.")

    def head(self, key: str) -> ObjectInfo:
        path = self.path_for(key)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise ObjectNotFound(f"No file at storage key {key!r}.", key=key) from None
        except NotADirectoryError:
            raise ObjectNotFound(f"No file at storage key {key!r}.", key=key) from None
        except OSError as exc:
            raise StorageError(
                f"Cannot read storage key {key!r}: {exc.strerror}.", key=key
            ) from exc
        if not os.path.isfile(path):
            raise ObjectNotFound(f"Storage key {key!r} is a folder, not a file.", key=key)
        return ObjectInfo(key=key, size=st.st_size, etag=f"{st.st_mtime_ns:x}-{st.st_size:x}")

    def read_range(self, key: str, start: int, end: int) -> bytes:
        with self.open_read(key) as f:
            f.seek(start)
            return f.read(max(0, end - start))

    def open_read(self, key: str) -> BinaryIO:
        path = self.path_for(key)
        try:
            return open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"No file at storage key {key!r}.", key=key) from None

    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # write then rename, so a reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".moorage-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def put_new(self, key: str, stream: BinaryIO, *, content_type: str | None = None) -> None:
        """Written beside the target, then linked into place: ``link`` refuses an existing
        name atomically, so two writers of one key never replace each other's file."""
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".moorage-")
        try:
            with os.fdopen(fd, "wb") as f:
                shutil.copyfileobj(stream, f, 1 << 20)
            os.link(tmp, path)
        except FileExistsError:
            raise ObjectExists(f"A file already exists at storage key {key!r}.", key=key) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def list_page(self, prefix: str, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        """Keys under ``prefix`` after ``cursor``, in code-point order (the order the sync's
        key ranges compare in: SQLite's binary collation, PostgreSQL's ``COLLATE "C"``).

        Stateless resume: the walk descends only into folders that can hold a key after the
        cursor and under the prefix, so a page costs the folders on the cursor's path plus the
        page itself, not the whole tree.
        """
        self._ensure_root()
        keys: list[tuple[str, os.DirEntry[str]]] = []
        for found in self._walk(prefix, cursor):
            if len(keys) == limit:
                return ListPage(objects=self._infos(keys), next_cursor=keys[-1][0])
            keys.append(found)
        return ListPage(objects=self._infos(keys), next_cursor=None)

    def _walk(self, prefix: str, cursor: str | None) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """Files (key, entry) in key order, depth first with an explicit stack."""
        stack = [iter(self._entries("", prefix, cursor))]
        while stack:
            found = next(stack[-1], None)
            if found is None:
                stack.pop()
            elif found[0].endswith("/"):  # a folder: its keys come before its next sibling's
                stack.append(iter(self._entries(found[0], prefix, cursor)))
            else:
                yield found

    def _entries(
        self, rel: str, prefix: str, cursor: str | None
    ) -> list[tuple[str, os.DirEntry[str]]]:
        """The sorted entries of folder ``rel`` that can hold keys under ``prefix`` after
        ``cursor``: files as their key, folders as ``key/`` (every key inside starts with it,
        so sorting them so sorts the keys). Symlinked folders are not walked (as ``os.walk``)."""
        out: list[tuple[str, os.DirEntry[str]]] = []
        try:
            scan = os.scandir(os.path.join(self.root, rel) if rel else self.root)
        except (FileNotFoundError, NotADirectoryError):
            return out  # removed while listing: its keys are gone
        with scan:
            for entry in scan:
                name = entry.name
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if is_dir:
                    if entry.is_symlink():
                        continue
                    key = f"{rel}{name}/"
                    if not (key.startswith(prefix) or prefix.startswith(key)):
                        continue
                    if cursor is not None and key <= cursor and not cursor.startswith(key):
                        continue
                else:
                    key = rel + name
                    if name.startswith(".moorage-") or not key.startswith(prefix):
                        continue
                    if cursor is not None and key <= cursor:
                        continue
                out.append((key, entry))
        out.sort(key=_first)
        return out

    def _infos(self, found: list[tuple[str, os.DirEntry[str]]]) -> list[ObjectInfo]:
        """One ``stat`` per listed file; a symlink is resolved in full (it must stay inside)."""
        out: list[ObjectInfo] = []
        for key, entry in found:
            if entry.is_symlink():
                with contextlib.suppress(ObjectNotFound):  # dangling: no file to list
                    out.append(self.head(key))
                continue
            validate_key(key)
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted since the folder was read
            if not stat.S_ISREG(st.st_mode):
                continue  # a fifo, socket or device is no file to register
            out.append(
                ObjectInfo(key=key, size=st.st_size, etag=f"{st.st_mtime_ns:x}-{st.st_size:x}")
            )
        return out

    def sign_url(self, key: str, *, expires_in: int) -> str | None:
        return None

    def check_many(self, keys: Iterable[str]) -> dict[str, StorageError | None]:
        """Existence of many keys: a folder holding many of them is read once (``scandir``),
        any other key, and any key that read did not show, costs one ``lstat``.

        Folder resolution (symlinks included) is done once per folder for this call, and a key
        that is itself a symlink is resolved in full, so nothing outside the root is reachable.
        """
        unique = list(dict.fromkeys(keys))
        wanted: dict[str, set[str]] = {}
        for key in unique:
            folder, _, name = key.rpartition("/")
            wanted.setdefault(folder, set()).add(name)
        folders: dict[str, str | StorageError] = {}
        listed: dict[str, dict[str, os.DirEntry[str]]] = {}
        out: dict[str, StorageError | None] = {}
        for key in unique:
            try:
                validate_key(key)
                folder, _, name = key.rpartition("/")
                real = folders.get(folder)
                if real is None:
                    real = folders[folder] = self._real_folder(folder, key)
                    if isinstance(real, str) and len(wanted[folder]) >= _SCAN_AT:
                        listed[folder] = _scan(real, wanted[folder])
                if isinstance(real, StorageError):
                    raise real
                self._check_file(key, os.path.join(real, name), listed.get(folder, {}).get(name))
                out[key] = None
            except StorageError as exc:
                out[key] = exc
        return out

    def _check_file(self, key: str, path: str, entry: os.DirEntry[str] | None) -> None:
        """``key`` (at ``path``) is a file: from its folder's entry when read, else by lstat."""
        try:
            if entry is None:
                raise FileNotFoundError  # not read with its folder: looked at on its own
            link, regular = entry.is_symlink(), entry.is_file(follow_symlinks=False)
        except OSError:
            try:
                mode = os.lstat(path).st_mode
            except (FileNotFoundError, NotADirectoryError):
                raise ObjectNotFound(f"No file at storage key {key!r}.", key=key) from None
            link, regular = stat.S_ISLNK(mode), stat.S_ISREG(mode)
        if link:
            self.head(key)
        elif not regular:
            raise ObjectNotFound(f"Storage key {key!r} is a folder, not a file.", key=key)

    def _real_folder(self, folder: str, key: str) -> str | StorageError:
        real = os.path.realpath(os.path.join(self.root, folder))
        if real != str(self.root) and not real.startswith(self._root_str):
            return InvalidKey(f"The storage key {key!r} leaves the storage folder.", key=key)
        return real


#: a folder holding at least this many of the keys checked is read with one ``scandir``...
_SCAN_AT = 64
#: ...up to this many entries a key wanted: past that, its other keys are lstat'd one by one
_SCAN_PER_KEY = 8


def _scan(folder: str, names: set[str]) -> dict[str, os.DirEntry[str]]:
    """The entries of ``folder`` called one of ``names``, from one ``scandir``: what it finds
    needs no ``lstat`` (its type came with the listing); a name it does not find is lstat'd
    as before (a case-insensitive disk, a file made meanwhile, a folder too large to read)."""
    found: dict[str, os.DirEntry[str]] = {}
    budget = _SCAN_PER_KEY * len(names)
    try:
        with os.scandir(folder) as entries:
            for seen, entry in enumerate(entries):
                if entry.name in names:
                    found[entry.name] = entry
                if seen >= budget:
                    break
    except OSError:
        return {}
    return found
