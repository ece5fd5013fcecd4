"""The local adapter's listing: key order across folders, and stateless resume at any cursor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moorage.storage.local import LocalStorage

# names whose folder/file order differs from their key order: "-" and "." sort before "/", "0"
# and "_" after it, and a folder's keys must sit exactly where "name/" sorts
TRICKY = [
    "a ",
    "a-b/x",
    "a.txt",
    "a/b/c.png",
    "a/b.png",
    "a/b/d/e.png",
    "a0",
    "a_/z",
    "ab/c",
    "b/\u00e9.png",
    "b/\u6f22.png",
    "b/z.png",
    "b!/q",
    "B/upper",
]


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    root = tmp_path / "root"
    for key in TRICKY:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(key.encode())
    return LocalStorage(root)


def _all(store: LocalStorage, prefix: str, limit: int, cursor: str | None = None) -> list[str]:
    out: list[str] = []
    while True:
        page = store.list_page(prefix, cursor=cursor, limit=limit)
        assert len(page.objects) <= limit
        out.extend(o.key for o in page.objects)
        if page.next_cursor is None:
            return out
        assert page.next_cursor == page.objects[-1].key
        cursor = page.next_cursor


@pytest.mark.parametrize("limit", [1, 2, 3, 1000])
def test_pages_list_every_key_once_in_code_point_order(store: LocalStorage, limit: int) -> None:
    assert _all(store, "", limit) == sorted(TRICKY)


@pytest.mark.parametrize("cursor", ["", *TRICKY, "a/", "a/b", "a/b/", "a/c", "a.", "zz", "A"])
def test_any_cursor_resumes_just_after_it(store: LocalStorage, cursor: str) -> None:
    assert _all(store, "", 2, cursor) == [k for k in sorted(TRICKY) if k > cursor]


@pytest.mark.parametrize("prefix", ["a", "a/", "a/b", "a/b/", "b", "b/", "c", "a-", "ab/c"])
def test_prefix_and_cursor_together(store: LocalStorage, prefix: str) -> None:
    under = [k for k in sorted(TRICKY) if k.startswith(prefix)]
    assert _all(store, prefix, 2) == under
    if under:
        assert _all(store, prefix, 2, under[0]) == under[1:]


def test_sizes_and_etags_match_head(store: LocalStorage) -> None:
    listed = store.list_page("").objects
    assert listed == [store.head(o.key) for o in listed]
    assert {o.size for o in listed} == {len(k.encode()) for k in sorted(TRICKY)}


def test_temp_files_special_files_and_dangling_links_are_not_listed(
    store: LocalStorage, tmp_path: Path
) -> None:
    (store.root / "a" / ".moorage-tmp123").write_bytes(b"half")
    os.mkfifo(store.root / "fifo")
    (store.root / "dangling").symlink_to(store.root / "nowhere")
    (store.root / "linked-folder").symlink_to(store.root / "a")
    (store.root / "b" / "link.png").symlink_to(store.root / "a.txt")
    keys = _all(store, "", 3)
    assert keys == sorted([*TRICKY, "b/link.png"])
    assert store.list_page("b/link.png").objects[0].size == len(b"a.txt")
