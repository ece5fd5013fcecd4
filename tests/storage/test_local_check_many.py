"""LocalStorage.check_many: a crowded folder is read once, and answers as lstat would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moorage.storage import local
from moorage.storage.base import InvalidKey, ObjectNotFound
from moorage.storage.local import LocalStorage


@pytest.fixture
def crowd(tmp_path: Path) -> tuple[LocalStorage, Path]:
    root = tmp_path / "bucket"
    (root / "crowd").mkdir(parents=True)
    for i in range(0, 200, 2):
        (root / "crowd" / f"{i:03d}.jpg").write_bytes(b"x")
    (root / "crowd" / "sub").mkdir()
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"secret")
    (root / "crowd" / "escape.jpg").symlink_to(outside)
    (root / "crowd" / "inside.jpg").symlink_to(root / "crowd" / "000.jpg")
    (root / "crowd" / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    os.mkfifo(root / "crowd" / "fifo.jpg")
    return LocalStorage(root), root


def _keys() -> list[str]:
    names = [f"{i:03d}.jpg" for i in range(200)]
    names += ["sub", "escape.jpg", "inside.jpg", "dangling.jpg", "fifo.jpg", "gone.jpg"]
    return [f"crowd/{n}" for n in names]


def _check(results: dict[str, object]) -> None:
    for i in range(200):
        key = f"crowd/{i:03d}.jpg"
        assert (results[key] is None) == (i % 2 == 0), key
        if i % 2:
            assert isinstance(results[key], ObjectNotFound)
    assert results["crowd/inside.jpg"] is None
    assert isinstance(results["crowd/escape.jpg"], InvalidKey)
    for key in ("crowd/sub", "crowd/dangling.jpg", "crowd/fifo.jpg", "crowd/gone.jpg"):
        assert isinstance(results[key], ObjectNotFound), key


def test_a_crowded_folder_is_read_once_and_answers_as_one_by_one(
    crowd: tuple[LocalStorage, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = crowd
    lstats: list[str] = []
    real_lstat = os.lstat

    def counting(path: str) -> os.stat_result:
        lstats.append(os.path.basename(path))
        return real_lstat(path)

    monkeypatch.setattr(local.os, "lstat", counting)
    results = store.check_many(_keys())
    _check(results)
    # the files the folder's listing showed were not looked at on their own (symlinks are
    # resolved in full, which lstats them), the names it did not show were
    assert not {f"{i:03d}.jpg" for i in range(2, 200, 2)} & set(lstats)
    assert {f"{i:03d}.jpg" for i in range(1, 200, 2)} | {"gone.jpg"} <= set(lstats)
    # the same answers, key by key, with no folder read
    one_by_one = {k: store.check_many([k])[k] for k in _keys()}
    assert {k: type(v) for k, v in one_by_one.items()} == {k: type(v) for k, v in results.items()}


def test_a_folder_too_large_to_read_for_its_keys_falls_back_to_lstat(
    crowd: tuple[LocalStorage, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = crowd
    monkeypatch.setattr(local, "_SCAN_PER_KEY", 0)  # the budget is spent on the first entry
    _check(store.check_many(_keys()))


def test_few_keys_in_a_folder_are_not_worth_a_listing(
    crowd: tuple[LocalStorage, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = crowd

    def no_scan(path: str) -> None:
        raise AssertionError(f"scandir({path})")

    monkeypatch.setattr(local.os, "scandir", no_scan)
    keys = [f"crowd/{i:03d}.jpg" for i in range(local._SCAN_AT - 1)]
    results = store.check_many(keys)
    assert [k for k, v in results.items() if v is None] == keys[::2]
