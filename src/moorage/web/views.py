"""What each gallery page shows, gathered from the services the API uses."""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from moorage.datasets.repository import dataset_repository
from moorage.datasets.service import dataset_service
from moorage.errors import NotFound
from moorage.items.filters import ItemFilters, Page
from moorage.items.service import item_service
from moorage.kit.text import unsafe_text
from moorage.models import Team
from moorage.storages.service import storage_service

GRID_PAGE = 60
#: the first page's first cards (a wide screen's first view) load their thumbnails at once;
#: the others, and every card of the next pages, as they come near the viewport
EAGER_THUMBNAILS = 24
STATUSES = ("processing", "complete", "error")
TYPES = ("image", "video", "pdf", "dicom", "nifti")
#: the grid's filters: query parameter -> allowed values (None: free text)
_FILTERS: dict[str, tuple[str, ...] | None] = {
    "status": ("new", "annotate", "review", "complete", "processing", "error", "archived"),
    "type": TYPES,
    "folder": None,
    "tag": None,
    "q": None,
}
#: folders listed in the tree (their counts come afterwards, see ``folder_counts``)
MAX_FOLDERS = 500


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected or "", given or "")


def datasets(session: Session, team: Team) -> list[dict[str, Any]]:
    rendered = dataset_service.list_all(session, team)
    counts = dataset_repository.processing_counts(session, [d["id"] for d in rendered])
    for d in rendered:
        by_status = counts.get(d["id"], {})
        d["counts"] = {s: by_status.get(s, 0) for s in STATUSES}
        total = sum(by_status.values())
        done = total - d["counts"]["processing"]
        d["done_percent"] = 100 if total == 0 else round(100 * done / total)
    return rendered


def _grid_filters(dataset_id: int, query: Mapping[str, str]) -> tuple[ItemFilters, dict[str, str]]:
    chosen: dict[str, str] = {}
    for name, allowed in _FILTERS.items():
        value = (query.get(name) or "").strip()[:200]
        if value and (allowed is None or value in allowed) and unsafe_text(value) is None:
            chosen[name] = value
    filters = ItemFilters(dataset_ids=[dataset_id])
    if "status" in chosen:
        filters.statuses = [chosen["status"]]
    if "type" in chosen:
        filters.slot_types = [chosen["type"]]
    if "folder" in chosen:
        filters.item_paths = ["/" + chosen["folder"].strip("/")]
    if "tag" in chosen:
        filters.tags = [chosen["tag"]]
    if "q" in chosen:
        filters.name_contains = chosen["q"]
    return filters, chosen


def _keep(chosen: Mapping[str, str]) -> str:
    """The chosen filters but the folder, as a query string the folder links carry on."""
    return urlencode({k: v for k, v in chosen.items() if k != "folder"})


def _dataset(session: Session, team: Team, slug: str) -> tuple[int, dict[str, Any]]:
    """The team's dataset as the pages show it: no per-type counts (a scan of its items)."""
    dataset = dataset_service.get_by_slug(session, team, slug)
    return dataset.id, {"id": dataset.id, "name": dataset.name, "slug": dataset.slug}


def grid_page(
    session: Session, team: Team, slug: str, query: Mapping[str, str], *, base_url: str
) -> dict[str, Any]:
    """One page of the grid (60 items from the ``after`` cursor) with the link to the next."""
    dataset_id, dataset = _dataset(session, team, slug)
    filters, chosen = _grid_filters(dataset_id, query)
    cursor = query.get("after") or None
    listing = item_service.list(
        session, team, filters=filters, page=Page(size=GRID_PAGE, cursor=cursor), base_url=base_url
    )
    next_cursor = listing["page"]["next"]
    return {
        "dataset": dataset,
        "items": listing["items"],
        "eager": 0,
        "chosen": chosen,
        "next_url": None
        if next_cursor is None
        else f"/datasets/{slug}?" + urlencode({**chosen, "after": next_cursor}),
    }


def dataset_page(
    session: Session, team: Team, slug: str, query: Mapping[str, str], *, base_url: str
) -> dict[str, Any]:
    """The grid's first page, the filters and the folder tree (paths only: the counts are
    fetched by the page afterwards, so a dataset of 100,000 items opens as fast as one of 100)."""
    found = grid_page(session, team, slug, query, base_url=base_url)
    paths = dataset_repository.folder_paths(session, found["dataset"]["id"], limit=MAX_FOLDERS)
    return {
        **found,
        "eager": 0 if query.get("after") else EAGER_THUMBNAILS,
        "keep": _keep(found["chosen"]),
        "counts_url": f"/datasets/{slug}?" + urlencode({**found["chosen"], "fragment": "folders"}),
        "folders": [{"path": p} for p in paths],
        "statuses": _FILTERS["status"],
        "types": TYPES,
    }


def folder_counts(
    session: Session, team: Team, slug: str, query: Mapping[str, str]
) -> dict[str, Any]:
    """Items per folder of the dataset (a scan of its items; fetched after the page)."""
    dataset_id, dataset = _dataset(session, team, slug)
    _, chosen = _grid_filters(dataset_id, query)
    folders = item_service.folders(session, team, filters=ItemFilters(dataset_ids=[dataset_id]))
    return {
        "dataset": dataset,
        "folders": folders["folders"][:MAX_FOLDERS],
        "chosen": chosen,
        "keep": _keep(chosen),
    }


def item_page(
    session: Session, team: Team, slug: str, item_id: str, *, base_url: str
) -> dict[str, Any]:
    dataset_id, dataset = _dataset(session, team, slug)
    item = item_service.get(session, team, item_id, base_url=base_url)
    if item["dataset_id"] != dataset_id:
        raise NotFound(f"Item {item_id!r} does not exist.", field="item_id")
    return {"dataset": dataset, "item": item}


def reprocess(session: Session, team: Team, slug: str, item_id: str | None) -> str:
    """Queue again one item, or every item in error of the dataset; where to go back to."""
    dataset = dataset_service.get_by_slug(session, team, slug)
    if item_id is not None:
        item_page(session, team, slug, item_id, base_url="")  # 404 unless it is this dataset's
        filters = ItemFilters(dataset_ids=[dataset.id])
        filters.item_ids = [uuid.UUID(item_id)]
        item_service.reprocess(session, team, filters=filters)
        return f"/datasets/{slug}/items/{item_id}"
    item_service.reprocess(
        session, team, filters=ItemFilters(dataset_ids=[dataset.id], statuses=["error"])
    )
    return f"/datasets/{slug}?status=processing"


def storages(session: Session, team: Team) -> list[dict[str, Any]]:
    return storage_service.list_all(session, team)
