"""Migration 0013: the jobs' and sync keys' foreign keys go and come back, rows kept."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from moorage.db import alembic_config
from moorage.models.base import utcnow
from tests.migrations.test_0012_implied_foreign_keys import _count, _foreign_keys, _seed

GONE = {("jobs", "item_id"), ("sync_keys", "item_id")}
KEPT = {("items", "dataset_id"), ("items", "storage_id"), ("slots", "item_id")}


def _sync_key_foreign_keys(engine: sa.Engine) -> set[str]:
    return {
        column
        for fk in sa.inspect(engine).get_foreign_keys("sync_keys")
        for column in fk["constrained_columns"]
    }


def _seed_key(engine: sa.Engine) -> None:
    meta = sa.MetaData()
    meta.reflect(engine)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            meta.tables["storages"].insert(),
            {"id": 1, "team_id": 1, "name": "S", "slug": "s", "provider": "local",
             "bucket": "b", "prefix": "", "readonly": False, "is_default": False,
             "allow_ambient_credentials": False, "options": {}, "created_at": now,
             "updated_at": now},
        )  # fmt: skip
        item = conn.execute(sa.text("SELECT id FROM items")).scalar_one()
        conn.execute(
            meta.tables["sync_keys"].insert(),
            {"dataset_id": 1, "storage_id": 1, "key": "a.png", "item_id": item,
             "state": "present"},
        )  # fmt: skip


def test_the_bookkeeping_keys_go_and_come_back(engine: sa.Engine) -> None:
    cfg = alembic_config(engine)
    command.upgrade(cfg, "0012")
    _seed(engine)
    _seed_key(engine)
    assert _foreign_keys(engine) >= GONE | KEPT
    assert _sync_key_foreign_keys(engine) == {"dataset_id", "storage_id", "item_id"}

    command.upgrade(cfg, "0013")
    keys = _foreign_keys(engine)
    assert not GONE & keys
    assert keys >= KEPT
    assert _sync_key_foreign_keys(engine) == set()
    # the tables SQLite rebuilt kept their rows
    assert [_count(engine, t) for t in ("items", "slots", "jobs", "sync_keys")] == [1, 1, 1, 1]

    command.downgrade(cfg, "0012")
    assert _foreign_keys(engine) >= GONE | KEPT
    assert _sync_key_foreign_keys(engine) == {"dataset_id", "storage_id", "item_id"}
    assert [_count(engine, t) for t in ("items", "slots", "jobs", "sync_keys")] == [1, 1, 1, 1]
