"""A folder on the server's disk as storage.

``bucket`` names a folder inside the folders a team may use: its own ``<root>/<team-slug>/`` in
each of the operator's allowed roots, and the folders the operator granted it. Every key is
resolved (symlinks included) and must stay inside the storage's folder.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from moorage.storage.base import (
    AccessDenied,
    BucketNotFound,
    InvalidKey,
    ListPage,
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

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def list_page(self, prefix: str, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        self._ensure_root()
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in filenames:
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix) and not name.startswith(".moorage-"):
                    keys.append(key)
        keys.sort()
        if cursor is not None:
            keys = [k for k in keys if k > cursor]
        page = keys[:limit]
        objects = [self.head(k) for k in page]
        next_cursor = page[-1] if len(keys) > limit else None
        return ListPage(objects=objects, next_cursor=next_cursor)

    def sign_url(self, key: str, *, expires_in: int) -> str | None:
        return None

    def check_many(self, keys: Iterable[str]) -> dict[str, StorageError | None]:
        """Existence of many keys with one ``lstat`` each.

        Folder resolution (symlinks included) is done once per folder for this call, and a key
        that is itself a symlink is resolved in full, so nothing outside the root is reachable.
        """
        folders: dict[str, str | StorageError] = {}
        out: dict[str, StorageError | None] = {}
        for key in dict.fromkeys(keys):
            try:
                validate_key(key)
                folder, _, name = key.rpartition("/")
                real = folders.get(folder)
                if real is None:
                    real = folders[folder] = self._real_folder(folder, key)
                if isinstance(real, StorageError):
                    raise real
                try:
                    st = os.lstat(os.path.join(real, name))
                except (FileNotFoundError, NotADirectoryError):
                    raise ObjectNotFound(f"No file at storage key {key!r}.", key=key) from None
                if stat.S_ISLNK(st.st_mode):
                    self.head(key)
                elif not stat.S_ISREG(st.st_mode):
                    raise ObjectNotFound(f"Storage key {key!r} is a folder, not a file.", key=key)
                out[key] = None
            except StorageError as exc:
                out[key] = exc
        return out

    def _real_folder(self, folder: str, key: str) -> str | StorageError:
        real = os.path.realpath(os.path.join(self.root, folder))
        if real != str(self.root) and not real.startswith(self._root_str):
            return InvalidKey(f"The storage key {key!r} leaves the storage folder.", key=key)
        return real
