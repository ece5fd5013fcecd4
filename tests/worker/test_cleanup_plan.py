"""What a cleanup deletes, from the rows alone."""

from __future__ import annotations

import uuid

from moorage.worker.cleanup_plan import SlotFiles, StorageInfo, plan

ITEM, SLOT = uuid.uuid4(), uuid.uuid4()


def _slot(**kw: object) -> SlotFiles:
    base: dict = {
        "item_id": ITEM,
        "slot_id": SLOT,
        "item_storage_id": 1,
        "derivatives_storage_id": None,
        "originals": ["photos/a.jpg"],
        "derivative_keys": [],
    }
    return SlotFiles(**(base | kw))


def test_the_items_folder_under_the_prefix() -> None:
    (target,) = plan([_slot()], {1: StorageInfo(prefix="", readonly=False)})
    assert target.as_json()["folders"] == [f"moorage/{ITEM}/"]
    (target,) = plan([_slot()], {1: StorageInfo(prefix="/data/", readonly=False)})
    assert target.as_json()["folders"] == [f"data/{ITEM}/"]


def test_legacy_root_level_derivatives_go_supplied_keys_and_originals_stay() -> None:
    keys = [
        f"{ITEM}/files/{SLOT}/thumbnail.jpg",  # before 0021: at the bucket's root
        "thumbs/a.jpg",  # supplied by the caller
        "photos/a.jpg",  # the original itself, named as a thumbnail
    ]
    (target,) = plan([_slot(derivative_keys=keys)], {1: StorageInfo("", readonly=False)})
    out = target.as_json()
    assert out["keys"] == [f"{ITEM}/files/{SLOT}/thumbnail.jpg"]
    assert out["keep"] == ["photos/a.jpg"]


def test_an_upload_under_the_items_folder_is_not_kept() -> None:
    upload = f"moorage/{ITEM}/uploads/a.jpg"
    (target,) = plan([_slot(originals=[upload])], {1: StorageInfo("", readonly=False)})
    assert target.as_json()["keep"] == []


def test_read_only_storages_are_never_cleaned() -> None:
    assert plan([_slot()], {1: StorageInfo("", readonly=True)}) == []
    assert plan([_slot(item_storage_id=None)], {}) == []
    # the derivatives storage of a read-only bucket is; the originals are elsewhere
    storages = {1: StorageInfo("", readonly=True), 2: StorageInfo("out", readonly=False)}
    (target,) = plan([_slot(derivatives_storage_id=2)], storages)
    assert (target.storage_id, target.folders, target.keep) == (2, [f"out/{ITEM}/"], [])


def test_a_storage_of_another_team_is_unknown_so_untouched() -> None:
    # the storages map holds the caller's team's storages only
    assert plan([_slot(derivatives_storage_id=9)], {1: StorageInfo("", readonly=False)}) == []
