"""Item queries, always scoped to one team."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    delete,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session, aliased

from moorage.items.filters import ItemFilters, Page
from moorage.models import Dataset, Folder, Item, ItemTag, Job, Section, Slot, SyncKey, Team
from moorage.models.base import utcnow

_PROCESSING_STATUSES = ("processing", "error", "cancelled", "uploading")

items_t = cast(Table, Item.__table__)
slots_t = cast(Table, Slot.__table__)
tags_t = cast(Table, ItemTag.__table__)


def _sort_column(field: str) -> ColumnElement[Any]:
    return {
        "inserted_at": items_t.c.seq,
        "updated_at": items_t.c.updated_at,
        "file_size": func.coalesce(items_t.c.size_bytes, 0),
        "filename": items_t.c.name,
        "priority": items_t.c.priority,
    }[field]


def sort_value(row: RowMapping, field: str) -> Any:
    if field == "inserted_at":
        return None
    if field == "updated_at":
        return row["updated_at"].isoformat()
    if field == "file_size":
        return row["size_bytes"] or 0
    return row["name"] if field == "filename" else row["priority"]


class ItemRepository:
    def conditions(
        self, session: Session, team: Team, filters: ItemFilters
    ) -> list[ColumnElement[bool]]:
        """Team scope plus filters. With dataset ids, scope by the team's own datasets alone,
        so the planner walks the (dataset_id, seq) index for a page instead of mixing indexes."""
        conds: list[ColumnElement[bool]] = []
        if filters.dataset_ids:
            owned = session.scalars(
                select(Dataset.id).where(
                    Dataset.team_id == team.id, Dataset.id.in_(filters.dataset_ids)
                )
            ).all()
            conds.append(items_t.c.dataset_id.in_(owned))
        else:
            conds.append(items_t.c.team_id == team.id)
        if filters.item_ids:
            conds.append(items_t.c.id.in_(filters.item_ids))
        if filters.item_names:
            conds.append(items_t.c.name.in_(filters.item_names))
        if filters.item_paths:
            conds.append(items_t.c.path.in_(filters.item_paths))
        if filters.statuses:
            conds.append(or_(*(self._status(s) for s in filters.statuses)))
        if filters.slot_types:
            conds.append(
                exists().where(
                    slots_t.c.item_id == items_t.c.id, slots_t.c.type.in_(filters.slot_types)
                )
            )
        if filters.source_statuses:
            conds.append(self._source_status(filters.source_statuses))
        if filters.tags:
            conds.append(
                exists().where(tags_t.c.item_id == items_t.c.id, tags_t.c.name.in_(filters.tags))
            )
        if filters.name_contains:
            text = filters.name_contains
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conds.append(items_t.c.name.ilike(f"%{escaped}%", escape="\\"))
        return conds

    @staticmethod
    def _source_status(wanted: list[str]) -> ColumnElement[bool]:
        column = items_t.c.source_status
        if "present" in wanted and "missing" in wanted:
            return or_(column.is_(None), column == "missing")
        return column == "missing" if "missing" in wanted else column.is_(None)

    @staticmethod
    def _status(status: str) -> ColumnElement[bool]:
        if status == "archived":
            return items_t.c.archived.is_(True)
        live = items_t.c.archived.is_(False)
        if status in _PROCESSING_STATUSES:
            return and_(live, items_t.c.processing_status == status)
        return and_(live, items_t.c.processing_status == "complete", items_t.c.status == status)

    def page(
        self,
        session: Session,
        team: Team,
        filters: ItemFilters,
        page: Page,
        after: tuple[Any, int] | None,
    ) -> Sequence[RowMapping]:
        col = _sort_column(page.sort_field)
        stmt: Select[Any] = select(items_t).where(*self.conditions(session, team, filters))
        if after is not None:
            value, seq = after
            if page.sort_field == "inserted_at":
                cmp = items_t.c.seq < seq if page.descending else items_t.c.seq > seq
            else:
                if page.sort_field == "updated_at":
                    value = datetime.fromisoformat(value)
                key = tuple_(col, items_t.c.seq)
                cmp = key < (value, seq) if page.descending else key > (value, seq)
            stmt = stmt.where(cmp)
        if page.sort_field == "inserted_at":
            order = [items_t.c.seq.desc() if page.descending else items_t.c.seq.asc()]
        elif page.descending:
            order = [col.desc(), items_t.c.seq.desc()]
        else:
            order = [col.asc(), items_t.c.seq.asc()]
        return session.execute(stmt.order_by(*order).limit(page.size + 1)).mappings().all()

    def get(self, session: Session, team: Team, item_id: uuid.UUID) -> RowMapping | None:
        return (
            session.execute(
                select(items_t).where(items_t.c.team_id == team.id, items_t.c.id == item_id)
            )
            .mappings()
            .one_or_none()
        )

    def slot_by_name(self, session: Session, item_id: uuid.UUID, slot_name: str) -> Slot | None:
        return session.scalars(
            select(Slot).where(Slot.item_id == item_id, Slot.slot_name == slot_name)
        ).one_or_none()

    def section(self, session: Session, slot_id: uuid.UUID, index: int | None) -> Section | None:
        return session.scalars(
            select(Section).where(Section.slot_id == slot_id, Section.section_index == index)
        ).one_or_none()

    def slots_of(
        self, session: Session, item_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[RowMapping]]:
        out: dict[uuid.UUID, list[RowMapping]] = {}
        if not item_ids:
            return out
        rows = session.execute(
            select(slots_t).where(slots_t.c.item_id.in_(item_ids)).order_by(slots_t.c.position)
        ).mappings()
        for row in rows:
            out.setdefault(row["item_id"], []).append(row)
        return out

    def tags_of(
        self, session: Session, item_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, str | None]]:
        out: dict[uuid.UUID, dict[str, str | None]] = {}
        if not item_ids:
            return out
        rows = session.execute(
            select(ItemTag.item_id, ItemTag.name, ItemTag.value).where(
                ItemTag.item_id.in_(item_ids)
            )
        )
        for item_id, name, value in rows:
            out.setdefault(item_id, {})[name] = value
        return out

    def sections_of(
        self, session: Session, slot_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[RowMapping]]:
        out: dict[uuid.UUID, list[RowMapping]] = {}
        t = Section.__table__
        rows = session.execute(
            select(t).where(t.c.slot_id.in_(slot_ids)).order_by(t.c.slot_id, t.c.section_index)
        ).mappings()
        for row in rows:
            out.setdefault(row["slot_id"], []).append(row)
        return out

    def set_archived(
        self, session: Session, team: Team, filters: ItemFilters, archived: bool
    ) -> int:
        result = session.execute(
            update(items_t)
            .where(*self.conditions(session, team, filters))
            .values(archived=archived, updated_at=utcnow())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def matching_ids(self, session: Session, team: Team, filters: ItemFilters) -> Any:
        """A subquery of the ids of the team's items that match."""
        return (
            select(items_t.c.id).where(*self.conditions(session, team, filters)).scalar_subquery()
        )

    def delete(self, session: Session, team: Team, filters: ItemFilters) -> int:
        ids = self.matching_ids(session, team, filters)
        # children first and explicitly, whatever the database's cascade settings
        sections_t = cast(Table, Section.__table__)
        slot_ids = select(slots_t.c.id).where(slots_t.c.item_id.in_(ids))
        session.execute(delete(sections_t).where(sections_t.c.slot_id.in_(slot_ids)))
        for model in (Job, ItemTag, Slot):
            table = cast(Table, model.__table__)
            session.execute(delete(table).where(table.c.item_id.in_(ids)))
        # a sync key outlives its item, as a key the sync saw (decision 0047: no foreign key)
        keys_t = cast(Table, SyncKey.__table__)
        session.execute(update(keys_t).where(keys_t.c.item_id.in_(ids)).values(item_id=None))
        result = session.execute(delete(items_t).where(*self.conditions(session, team, filters)))
        return int(result.rowcount)  # type: ignore[attr-defined]

    def folders(
        self, session: Session, team: Team, dataset_ids: Sequence[int], filters: ItemFilters
    ) -> list[dict[str, Any]]:
        folder_rows = session.execute(
            select(Folder.dataset_id, Folder.path)
            .where(Folder.dataset_id.in_(dataset_ids))
            .order_by(Folder.path)
        ).all()

        def counts(conds: list[ColumnElement[bool]]) -> dict[tuple[int, str], int]:
            rows = session.execute(
                select(items_t.c.dataset_id, items_t.c.path, func.count())
                .where(*conds)
                .group_by(items_t.c.dataset_id, items_t.c.path)
            )
            return {(d, p): n for d, p, n in rows}

        scoped = ItemFilters(dataset_ids=list(dataset_ids))
        unfiltered = counts(self.conditions(session, team, scoped))
        filtered = (
            unfiltered if filters == scoped else counts(self.conditions(session, team, filters))
        )
        return [
            {
                "dataset_id": d,
                "path": p,
                "filtered_item_count": filtered.get((d, p), 0),
                "unfiltered_item_count": unfiltered.get((d, p), 0),
            }
            for d, p in folder_rows
        ]


item_repository = ItemRepository()


class BulkRepository:
    """The bulk operations darwin-py sends, on the items ``conditions`` match (team-scoped)."""

    def ids(self, session: Session, team: Team, filters: ItemFilters) -> list[uuid.UUID]:
        stmt = select(items_t.c.id).where(*item_repository.conditions(session, team, filters))
        return list(session.scalars(stmt.order_by(items_t.c.seq)))

    def set_values(self, session: Session, team: Team, filters: ItemFilters, **values: Any) -> int:
        result = session.execute(
            update(items_t)
            .where(*item_repository.conditions(session, team, filters))
            .values(**values, updated_at=utcnow())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def tag(self, session: Session, team: Team, filters: ItemFilters, name: str) -> None:
        tags_t = cast(Table, ItemTag.__table__)
        ids = item_repository.matching_ids(session, team, filters)
        source = select(items_t.c.id, literal(name), null()).where(items_t.c.id.in_(ids))
        insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
        stmt = (
            insert(tags_t)
            .from_select(["item_id", "name", "value"], source)
            .on_conflict_do_nothing(index_elements=["item_id", "name"])
        )
        session.execute(stmt)
        self._touch(session, ids)

    def untag(self, session: Session, team: Team, filters: ItemFilters, name: str) -> None:
        tags_t = cast(Table, ItemTag.__table__)
        ids = item_repository.matching_ids(session, team, filters)
        session.execute(delete(tags_t).where(tags_t.c.item_id.in_(ids), tags_t.c.name == name))
        self._touch(session, ids)

    @staticmethod
    def _touch(session: Session, ids: Any) -> None:
        session.execute(update(items_t).where(items_t.c.id.in_(ids)).values(updated_at=utcnow()))

    def clashes(self, session: Session, team: Team, filters: ItemFilters, path: str) -> list[str]:
        """Names that would be twice in ``path`` of one dataset once the items move there."""
        conds = item_repository.conditions(session, team, filters)
        moving = session.execute(
            select(items_t.c.id, items_t.c.dataset_id, items_t.c.name).where(*conds)
        ).all()
        seen: set[tuple[int, str]] = set()
        twice = []
        for _id, dataset_id, name in moving:
            if (dataset_id, name) in seen:
                twice.append(name)
            seen.add((dataset_id, name))
        ids = item_repository.matching_ids(session, team, filters)
        other = aliased(Item)
        staying = session.execute(
            select(other.name)
            .where(
                tuple_(other.dataset_id, other.name).in_(
                    select(items_t.c.dataset_id, items_t.c.name).where(*conds)
                ),
                other.path == path,
                other.id.not_in(ids),
            )
            .limit(10)
        ).scalars()
        return sorted({*twice, *staying})[:10]

    def move(self, session: Session, team: Team, filters: ItemFilters, path: str) -> None:
        conds = item_repository.conditions(session, team, filters)
        datasets = session.scalars(select(items_t.c.dataset_id).where(*conds).distinct()).all()
        self.set_values(session, team, filters, path=path)
        parts = [p for p in path.split("/") if p]
        folders = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
        rows = [{"dataset_id": d, "path": p} for d in datasets for p in folders]
        if rows:
            insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
            session.execute(
                insert(Folder.__table__).on_conflict_do_nothing(  # type: ignore[arg-type]
                    index_elements=["dataset_id", "path"]
                ),
                rows,
            )


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


bulk_repository = BulkRepository()
