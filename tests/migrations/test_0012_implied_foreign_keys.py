"""Migration 0012: the foreign keys other keys imply go; deleting still cascades in full."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import command

from moorage.db import alembic_config
from moorage.models.base import utcnow
from tests.migrations.conftest import seed_team_and_dataset

GONE = {("items", "team_id"), ("jobs", "team_id"), ("jobs", "slot_id"), ("uploads", "slot_id")}
KEPT = {
    ("items", "dataset_id"),
    ("items", "storage_id"),
    ("slots", "item_id"),
    ("jobs", "item_id"),
    ("uploads", "item_id"),
    ("uploads", "team_id"),
    ("sync_keys", "item_id"),
}


def _foreign_keys(engine: sa.Engine) -> set[tuple[str, str]]:
    inspector = sa.inspect(engine)
    return {
        (table, column)
        for table in ("items", "slots", "jobs", "uploads", "sync_keys")
        for fk in inspector.get_foreign_keys(table)
        for column in fk["constrained_columns"]
    }


def _seed(engine: sa.Engine) -> None:
    """A team, its dataset, an item with a slot and a queued job (ids as the app writes them)."""
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    now = utcnow()
    item, slot = uuid.uuid4(), uuid.uuid4()
    hexes = {"item": item.hex, "slot": slot.hex, "job": uuid.uuid4().hex}
    if engine.dialect.name == "postgresql":
        hexes = {k: str(uuid.UUID(v)) for k, v in hexes.items()}
    with engine.begin() as conn:
        seed_team_and_dataset(conn, t, now)
        conn.execute(
            t["items"].insert(),
            {"id": hexes["item"], "team_id": 1, "dataset_id": 1, "name": "a.png", "path": "/",
             "status": "processing", "processing_status": "processing", "archived": False,
             "priority": 0, "primary_type": "image", "layout": {}, "options": {},
             "inserted_at": now, "updated_at": now},
        )  # fmt: skip
        conn.execute(
            t["slots"].insert(),
            {"id": hexes["slot"], "item_id": hexes["item"], "position": 0, "slot_name": "0",
             "type": "image", "kind": "image", "file_name": "a.png", "storage_key": "a.png",
             "as_frames": False, "extract_views": False, "metadata": {}, "total_sections": 0},
        )  # fmt: skip
        conn.execute(
            t["jobs"].insert(),
            {"id": hexes["job"], "team_id": 1, "item_id": hexes["item"], "slot_id": hexes["slot"],
             "kind": "process_slot", "status": "queued", "attempts": 0, "created_at": now,
             "updated_at": now},
        )  # fmt: skip


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_the_implied_keys_go_and_come_back(engine: sa.Engine) -> None:
    cfg = alembic_config(engine)
    command.upgrade(cfg, "0011")
    _seed(engine)
    assert _foreign_keys(engine) >= GONE | KEPT

    command.upgrade(cfg, "0012")
    keys = _foreign_keys(engine)
    assert not GONE & keys
    assert keys >= KEPT
    # the tables SQLite rebuilt kept their rows
    assert [_count(engine, t) for t in ("items", "slots", "jobs")] == [1, 1, 1]

    command.downgrade(cfg, "0011")
    assert _foreign_keys(engine) >= GONE | KEPT
    assert [_count(engine, t) for t in ("items", "slots", "jobs")] == [1, 1, 1]


def test_deleting_a_team_still_deletes_its_items_slots_and_jobs(engine: sa.Engine) -> None:
    command.upgrade(alembic_config(engine), "0012")  # 0013 leaves jobs to the services
    _seed(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM teams WHERE id = 1"))
    # through datasets -> items -> slots, and items -> jobs
    assert [_count(engine, t) for t in ("datasets", "items", "slots", "jobs")] == [0, 0, 0, 0]
