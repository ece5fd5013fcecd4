from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from moorage.datasets.repository import dataset_repository
from moorage.errors import BadRequest, Conflict, NotFound
from moorage.items.bulk import LayoutBody, PathBody, PriorityBody, TagBody
from moorage.items.deletion import cleanup_targets
from moorage.items.filters import ItemFilters, Page, normalize_path
from moorage.items.repository import bulk_repository, item_repository, sort_value
from moorage.items.serialize import item_json
from moorage.kit.cursor import decode_cursor, encode_cursor
from moorage.kit.text import unsafe_text
from moorage.models import Team
from moorage.worker.cleanup import add_cleanup
from moorage.worker.dispatch import send_after_commit, send_cleanup_after_commit
from moorage.worker.repository import job_repository


def find_item(session: Session, team: Team, item_id: str) -> tuple[uuid.UUID, RowMapping]:
    """The team's item with this id, or 404 (also for ids that are not UUIDs)."""
    try:
        uid = uuid.UUID(item_id)
    except ValueError:
        raise NotFound(f"Item {item_id!r} does not exist.", field="item_id") from None
    row = item_repository.get(session, team, uid)
    if row is None:
        raise NotFound(f"Item {item_id!r} does not exist.", field="item_id")
    return uid, row


def _fits(field: str, value: Any) -> bool:
    """Whether a cursor's sort value can be compared with the sort column on both engines."""
    if field == "inserted_at":
        return True
    if field in ("file_size", "priority"):
        bound = 2**63 if field == "file_size" else 2**31
        return isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound
    if not isinstance(value, str) or unsafe_text(value) is not None:
        return False
    if field == "updated_at":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
    return True


def _after(page: Page) -> tuple[Any, int] | None:
    if not page.cursor:
        return None
    value, seq = decode_cursor(page.cursor)
    if not (_fits(page.sort_field, value) and 0 <= seq < 2**63):
        raise BadRequest(
            "page[from] is not a cursor of this listing (was the sort changed?).",
            field="page[from]",
        )
    return value, seq


class ItemService:
    def list(
        self, session: Session, team: Team, *, filters: ItemFilters, page: Page, base_url: str
    ) -> dict[str, Any]:
        after = _after(page)
        rows = item_repository.page(session, team, filters, page, after)
        has_more = len(rows) > page.size
        rows = rows[: page.size]
        ids = [r["id"] for r in rows]
        slots = item_repository.slots_of(session, ids)
        tags = item_repository.tags_of(session, ids)
        items = [
            item_json(
                r,
                slots.get(r["id"], []),
                tags=tags.get(r["id"], {}),
                base_url=base_url,
                team_slug=team.slug,
                cursor=encode_cursor(sort_value(r, page.sort_field), r["seq"]),
            )
            for r in rows
        ]
        next_cursor = (
            encode_cursor(sort_value(rows[-1], page.sort_field), rows[-1]["seq"])
            if has_more
            else None
        )
        return {
            "items": items,
            "page": {"count": len(items), "next": next_cursor, "previous": page.cursor},
        }

    def get(self, session: Session, team: Team, item_id: str, *, base_url: str) -> dict[str, Any]:
        uid, row = find_item(session, team, item_id)
        slots = item_repository.slots_of(session, [uid]).get(uid, [])
        sections = item_repository.sections_of(session, [s["id"] for s in slots])
        tags = item_repository.tags_of(session, [uid]).get(uid, {})
        out = item_json(
            row, slots, tags=tags, base_url=base_url, team_slug=team.slug, sections=sections
        )
        if row["processing_status"] == "processing":
            # how far the jobs are: slots done, and frames/pages written for long videos
            out["processing_progress"] = job_repository.progress_of(session, uid)
        return out

    def folders(self, session: Session, team: Team, *, filters: ItemFilters) -> dict[str, Any]:
        if not filters.dataset_ids:
            raise BadRequest("dataset_ids is required.", field="dataset_ids")
        owned = dataset_repository.ids_of_team(session, team, filters.dataset_ids)
        return {"folders": item_repository.folders(session, team, owned, filters)}

    def set_archived(
        self, session: Session, team: Team, *, filters: ItemFilters, archived: bool
    ) -> dict[str, Any]:
        item_repository.set_archived(session, team, filters, archived)
        return {}

    def reprocess(self, session: Session, team: Team, *, filters: ItemFilters) -> dict[str, int]:
        """Queue the processing of every matching item again (items on read-only storage have
        no jobs and are left alone); the worker reads the object as it is now."""
        ids = item_repository.matching_ids(session, team, filters)
        job_ids = job_repository.requeue_items(session, team.id, ids)
        send_after_commit(session, job_ids)
        return {"queued": len(job_ids)}

    def delete(self, session: Session, team: Team, *, filters: ItemFilters) -> dict[str, Any]:
        """Delete the rows; what moorage wrote in the storages goes in a cleanup job, sent
        once this transaction commits (never an original: worker/cleanup_plan.py)."""
        cleanup_id = add_cleanup(session, team.id, cleanup_targets(session, team, filters))
        item_repository.delete(session, team, filters)
        if cleanup_id is not None:
            send_cleanup_after_commit(session, cleanup_id)
        return {}


def _owned(session: Session, team: Team, filters: ItemFilters) -> None:
    """A 404 for a dataset id that is not one of the team's (another team's is not found)."""
    if not filters.dataset_ids:
        return
    owned = set(dataset_repository.ids_of_team(session, team, filters.dataset_ids))
    missing = [d for d in filters.dataset_ids if d not in owned]
    if missing:
        raise NotFound(f"Dataset {missing[0]} does not exist.", field="filters.dataset_ids")


class BulkService:
    """Tags, folder moves, layout and priority of the items a filter matches (as archive)."""

    def tag(self, session: Session, team: Team, filters: ItemFilters, body: TagBody) -> None:
        _owned(session, team, filters)
        bulk_repository.tag(session, team, filters, body.name)

    def untag(self, session: Session, team: Team, filters: ItemFilters, body: TagBody) -> None:
        _owned(session, team, filters)
        bulk_repository.untag(session, team, filters, body.name)

    def move(self, session: Session, team: Team, filters: ItemFilters, body: PathBody) -> None:
        _owned(session, team, filters)
        path = normalize_path(body.path)
        if any(p in (".", "..") for p in path.split("/")):
            raise BadRequest("path must not hold . or .. folders.", field="path")
        clashes = bulk_repository.clashes(session, team, filters, path)
        if clashes:
            raise Conflict(
                f"{path} would hold two items named {clashes[0]!r}; nothing was moved.",
                field="path",
                names=clashes,
            )
        bulk_repository.move(session, team, filters, path)

    def layout(self, session: Session, team: Team, filters: ItemFilters, body: LayoutBody) -> None:
        _owned(session, team, filters)
        layout = body.layout.model_dump(exclude_none=True)
        bulk_repository.set_values(session, team, filters, layout=layout)

    def priority(
        self, session: Session, team: Team, filters: ItemFilters, body: PriorityBody
    ) -> None:
        _owned(session, team, filters)
        bulk_repository.set_values(session, team, filters, priority=body.priority)

    def ids(self, session: Session, team: Team, filters: ItemFilters) -> dict[str, list[str]]:
        _owned(session, team, filters)
        return {"item_ids": [str(i) for i in bulk_repository.ids(session, team, filters)]}


item_service = ItemService()
bulk_service = BulkService()
