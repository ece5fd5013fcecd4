"""Bulk-load a dataset of many processed image items straight into moorage's tables.

For the gallery's scale test and ``benchmarks/gallery.py``: rows written the way the
registration repository writes them (executemany on SQLite, COPY on PostgreSQL), every slot
pointing at one real thumbnail so the grid shows pictures. Items sit in ten folders
(``/bulk/f0`` .. ``/bulk/f9``); every tenth item carries the tag ``tenth``.
"""

from __future__ import annotations

from sqlalchemy import select

from moorage.db import Database
from moorage.models import Dataset, StorageConfig, Team
from moorage.models.base import new_uuids, utcnow
from moorage.registration.repository import registration_repository
from moorage.registration.rows import Bulk

BATCH = 20_000
FOLDERS = [f"/bulk/f{i}" for i in range(10)]


def bulk_load(
    database_url: str,
    *,
    team_slug: str,
    dataset_slug: str,
    storage_slug: str,
    thumbnail_key: str,
    total: int,
) -> None:
    db = Database(database_url)
    try:
        with db.session() as session:
            team = session.scalars(select(Team).where(Team.slug == team_slug)).one()
            dataset_id = session.scalars(
                select(Dataset.id).where(Dataset.team_id == team.id, Dataset.slug == dataset_slug)
            ).one()
            storage_id = session.scalars(
                select(StorageConfig.id).where(
                    StorageConfig.team_id == team.id, StorageConfig.slug == storage_slug
                )
            ).one()
            registration_repository.insert_folders(session, dataset_id, ["/bulk", *FOLDERS])
            team_id = team.id
        for start in range(0, total, BATCH):
            with db.session() as session:
                for bulk in _batch(team_id, dataset_id, storage_id, thumbnail_key, start, total):
                    registration_repository.insert(session, bulk)
        with db.engine.connect() as conn:  # what autovacuum (or optimize) does after a load
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        if db.dialect == "sqlite":  # and SQLite's checkpoint, done by now on a live server
            raw = db.engine.raw_connection()  # outside a transaction (the engine begins one)
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
            finally:
                raw.close()
    finally:
        db.dispose()


def _batch(
    team_id: int, dataset_id: int, storage_id: int, thumbnail_key: str, start: int, total: int
) -> tuple[Bulk, Bulk, Bulk]:
    now = utcnow()
    items = Bulk(
        "items",
        ("id", "name", "path", "size_bytes"),
        constants={
            "team_id": team_id,
            "dataset_id": dataset_id,
            "storage_id": storage_id,
            "status": "new",
            "processing_status": "complete",
            "processing_error": None,
            "archived": False,
            "priority": 0,
            "primary_type": "image",
            "layout": {"version": 1, "type": "simple", "slots": ["0"]},
            "options": {},
            "inserted_at": now,
            "updated_at": now,
        },
    )
    slots = Bulk(
        "slots",
        ("id", "item_id", "file_name", "storage_key"),
        constants={
            "position": 0,
            "slot_name": "0",
            "type": "image",
            "kind": "image",
            "storage_thumbnail_key": thumbnail_key,
            "size_bytes": 1000,
            "fps": None,
            "as_frames": False,
            "extract_views": False,
            "metadata": {"width": 640, "height": 480},
            "total_sections": 1,
        },
    )
    tags = Bulk("item_tags", ("item_id", "name"), constants={"value": None})
    end = min(total, start + BATCH)
    ids = new_uuids(2 * (end - start))
    for n, i in enumerate(range(start, end)):
        item_id, slot_id, name = ids[2 * n], ids[2 * n + 1], f"bulk{i:07d}.jpg"
        items.rows.append((item_id, name, FOLDERS[i % 10], 1000))
        slots.rows.append((slot_id, item_id, name, f"bulk/{name}"))
        if i % 10 == 0:
            tags.rows.append((item_id, "tenth"))
    return items, slots, tags
