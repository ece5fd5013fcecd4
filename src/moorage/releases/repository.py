"""Release queries. Every read on a request path is scoped to the caller's team; the builder's
claim and checkpoints are guarded by the lease token (``attempts``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, Uuid, and_, bindparam, func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from moorage.models import Item, ItemTag, Release, Section, Slot, StorageConfig, Team
from moorage.models.base import utcnow

__all__ = ["release_repository"]

items_t = cast(Table, Item.__table__)
slots_t = cast(Table, Slot.__table__)
sections_t = cast(Table, Section.__table__)
tags_t = cast(Table, ItemTag.__table__)


teams_t = cast(Table, Team.__table__)
releases_t = cast(Table, Release.__table__)

#: what one file URL of a release needs, in one query built once (it is the hot path of a
#: pull): the release if it is of the team the path names, and the slot if its item is one of
#: the release's (outer joins: no slot means no such item or slot in the release)
_SERVING = (
    select(
        StorageConfig,
        releases_t.c.id.label("release_id"),
        releases_t.c.team_id,
        releases_t.c.name.label("release_name"),
        releases_t.c.status,
        releases_t.c.token_salt,
        slots_t.c.id.label("slot_id"),
        slots_t.c.storage_key,
        slots_t.c.file_name,
        slots_t.c.source_files,
        slots_t.c.storage_thumbnail_key,
        slots_t.c.derivatives_storage_id,
        items_t.c.storage_id.label("item_storage_id"),
    )
    .select_from(releases_t)
    .join(teams_t, teams_t.c.id == releases_t.c.team_id)
    .outerjoin(
        items_t,
        and_(
            items_t.c.id == bindparam("item_id", type_=Uuid),
            items_t.c.team_id == releases_t.c.team_id,
            items_t.c.dataset_id == releases_t.c.dataset_id,
            items_t.c.seq <= releases_t.c.max_seq,
            items_t.c.archived.is_(False),
        ),
    )
    .outerjoin(
        slots_t,
        and_(slots_t.c.item_id == items_t.c.id, slots_t.c.slot_name == bindparam("slot_name")),
    )
    .outerjoin(
        StorageConfig,
        and_(
            StorageConfig.id == items_t.c.storage_id,
            StorageConfig.team_id == releases_t.c.team_id,
        ),
    )
    .where(
        releases_t.c.id == bindparam("release_id", type_=Uuid),
        teams_t.c.slug == bindparam("team_slug"),
    )
)


class ReleaseRepository:
    def serving(
        self,
        session: Session,
        *,
        team_slug: str,
        release_id: uuid.UUID,
        item_id: uuid.UUID,
        slot_name: str,
    ) -> tuple[StorageConfig | None, RowMapping] | None:
        """The item's storage (``None`` if removed) and the rest as a mapping."""
        params = {
            "team_slug": team_slug,
            "release_id": release_id,
            "item_id": item_id,
            "slot_name": slot_name,
        }
        row = session.execute(_SERVING, params).one_or_none()
        return None if row is None else (row[0], row._mapping)

    def of_dataset(self, session: Session, team: Team, dataset_id: int) -> Sequence[Release]:
        """Newest first. A dataset holds few releases: V7 lists them all, unpaged."""
        return session.scalars(
            select(Release)
            .where(Release.team_id == team.id, Release.dataset_id == dataset_id)
            .order_by(Release.version.desc())
        ).all()

    def get(self, session: Session, team: Team, release_id: uuid.UUID) -> Release | None:
        return session.scalars(
            select(Release).where(Release.team_id == team.id, Release.id == release_id)
        ).one_or_none()

    def get_for_team_slug(
        self, session: Session, team_slug: str, release_id: uuid.UUID
    ) -> tuple[Release, Team] | None:
        """For a token-carrying URL: the release, if it is of the team the path names."""
        row = session.execute(
            select(Release, Team)
            .join(Team, Team.id == Release.team_id)
            .where(Release.id == release_id, Team.slug == team_slug)
        ).one_or_none()
        return None if row is None else (row[0], row[1])

    def by_id(self, session: Session, release_id: uuid.UUID) -> Release | None:
        """The builder's read (it runs for no team: the id comes from the row it was sent)."""
        return session.get(Release, release_id)

    def name_taken(self, session: Session, dataset_id: int, name: str) -> bool:
        found = session.scalar(
            select(Release.id).where(Release.dataset_id == dataset_id, Release.name == name)
        )
        return found is not None

    def next_version(self, session: Session, dataset_id: int) -> int:
        top = session.scalar(
            select(func.max(Release.version)).where(Release.dataset_id == dataset_id)
        )
        return int(top or 0) + 1

    def max_seq(self, session: Session, dataset_id: int) -> int:
        """The last item of the dataset now (``ix_items_dataset_seq``: one index probe)."""
        top = session.scalar(
            select(items_t.c.seq)
            .where(items_t.c.dataset_id == dataset_id)
            .order_by(items_t.c.seq.desc())
            .limit(1)
        )
        return int(top or 0)

    def items_page(
        self, session: Session, release: Release, *, after: int, size: int
    ) -> Sequence[RowMapping]:
        """The next ``size`` live items of the release, in ``seq`` order (keyset, no offset)."""
        return (
            session.execute(
                select(items_t)
                .where(
                    items_t.c.dataset_id == release.dataset_id,
                    items_t.c.seq > after,
                    items_t.c.seq <= release.max_seq,
                    items_t.c.archived.is_(False),
                )
                .order_by(items_t.c.seq)
                .limit(size)
            )
            .mappings()
            .all()
        )

    def slots_of(
        self, session: Session, item_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[RowMapping]]:
        out: dict[uuid.UUID, list[RowMapping]] = {}
        if not item_ids:
            return out
        rows = session.execute(
            select(slots_t)
            .where(slots_t.c.item_id.in_(item_ids))
            .order_by(slots_t.c.item_id, slots_t.c.position)
        ).mappings()
        for row in rows:
            out.setdefault(row["item_id"], []).append(row)
        return out

    def tags_of(
        self, session: Session, item_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[str, str | None]]]:
        """Each item's tags (name, text), by name (items without tags are absent)."""
        out: dict[uuid.UUID, list[tuple[str, str | None]]] = {}
        if not item_ids:
            return out
        rows = session.execute(
            select(tags_t.c.item_id, tags_t.c.name, tags_t.c.value)
            .where(tags_t.c.item_id.in_(item_ids))
            .order_by(tags_t.c.item_id, tags_t.c.name)
        )
        for item_id, name, value in rows:
            out.setdefault(item_id, []).append((name, value))
        return out

    def section_hq_key(self, session: Session, slot_id: uuid.UUID, index: int) -> str | None:
        return session.scalar(
            select(sections_t.c.storage_hq_key).where(
                sections_t.c.slot_id == slot_id, sections_t.c.section_index == index
            )
        )

    # the build's lease -------------------------------------------------------------------

    def claim(
        self, session: Session, release_id: uuid.UUID, *, attempt: int, stale_before: datetime
    ) -> int | None:
        """Take the pending release for a message sent for ``attempt``; the new token."""
        result = session.execute(
            update(Release)
            .where(
                Release.id == release_id,
                Release.status == "pending",
                Release.attempts == attempt,
                or_(Release.held.is_(False), Release.heartbeat_at < stale_before),
            )
            .values(attempts=attempt + 1, held=True, heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return attempt + 1 if _rowcount(result) == 1 else None

    def heartbeat(self, session: Session, release_id: uuid.UUID, token: int) -> bool:
        return self._guarded(session, release_id, token, heartbeat_at=utcnow())

    def finish(self, session: Session, release_id: uuid.UUID, token: int, **values: Any) -> bool:
        return self._guarded(session, release_id, token, held=False, finished_at=utcnow(), **values)

    def _guarded(self, session: Session, release_id: uuid.UUID, token: int, **values: Any) -> bool:
        result = session.execute(
            update(Release)
            .where(
                Release.id == release_id,
                Release.attempts == token,
                Release.status == "pending",
                Release.held.is_(True),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    def waiting(
        self, session: Session, *, before: datetime, silent_since: datetime, limit: int = 1000
    ) -> list[tuple[uuid.UUID, int]]:
        """Pending releases no live build holds: never taken since ``before``, or silent."""
        rows = session.execute(
            select(Release.id, Release.attempts)
            .where(
                Release.status == "pending",
                or_(
                    and_(Release.held.is_(False), Release.heartbeat_at < before),
                    and_(Release.held.is_(True), Release.heartbeat_at < silent_since),
                ),
            )
            .limit(limit)
        ).all()
        return [(r[0], int(r[1])) for r in rows]


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


release_repository = ReleaseRepository()
