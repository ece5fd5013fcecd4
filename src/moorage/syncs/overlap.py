"""When two pages of a sync may register at once (decision 0040).

Registration inserts each item's folder and its ancestors (``ON CONFLICT DO NOTHING``): two
open transactions inserting the same new folder wait on each other's row, and a page that
waits on the one after it (which waits for it to commit) would stall. So a page registers
beside the one before it only when every folder both need is one the database already holds.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from moorage.registration.model import Blocked
from moorage.registration.normalize import normalize_path
from moorage.registration.rows import folder_and_ancestors
from moorage.storage.base import ObjectInfo
from moorage.syncs.diff import Run
from moorage.syncs.repository import sync_repository

__all__ = ["page_folders", "shares_new_folders"]


def page_folders(run: Run, wanted: Iterable[ObjectInfo]) -> set[str]:
    """The folders (with ancestors) the items of the ``wanted`` objects would be registered in
    (one item a key, folders preserved), named as registration names them. A key's folder
    relative to the prefix is the relative folder of the key's folder: each folder of the
    page is named once, however many keys it holds."""
    plan = run.plan
    paths = {
        plan.item_path(plan.relative(key_folder))
        for key_folder in {info.key.rpartition("/")[0] for info in wanted}
    }
    out: set[str] = set()
    for path in paths:
        try:
            out.update(folder_and_ancestors(normalize_path(path)))
        except Blocked:  # registration blocks the item; it adds no folder
            continue
    return out


def shares_new_folders(session: Session, run: Run, mine: set[str], before: set[str]) -> bool:
    """Whether this page and the one before it both need a folder not stored yet."""
    shared = mine & before
    if not shared:
        return False
    stored = sync_repository.stored_folders(session, dataset_id=run.dataset_id, paths=shared)
    return bool(shared - stored)
