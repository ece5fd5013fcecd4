"""When two pages of a sync may register at once (decision 0040).

Registration inserts each item's folder and its ancestors (``ON CONFLICT DO NOTHING``): two
open transactions inserting the same new folder wait on each other's row, and a page that
waits on the one after it (which waits for it to commit) would stall. So a page registers
beside the one before it only when every folder both need is one the database already holds.
"""

from __future__ import annotations

import posixpath

from sqlalchemy.orm import Session

from moorage.registration.model import Blocked
from moorage.registration.normalize import normalize_path
from moorage.registration.rows import folder_and_ancestors
from moorage.storage.base import ListPage
from moorage.syncs.diff import Run
from moorage.syncs.repository import sync_repository

__all__ = ["page_folders", "shares_new_folders"]


def page_folders(run: Run, page: ListPage) -> set[str]:
    """The folders (with ancestors) the page's items would be registered in (one item a key,
    folders preserved), named as registration names them."""
    paths = {
        run.plan.item_path(posixpath.dirname(run.plan.relative(info.key)))
        for info in page.objects
        if run.plan.wants(info.key)
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
