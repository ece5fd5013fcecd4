"""Migration 0003: a series' files move from sections (and slot metadata) to slots.source_files."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import command

from moorage.db import alembic_config
from moorage.models.base import utcnow
from tests.migrations.conftest import seed_team_and_dataset

_UUIDS = {"items": ("id",), "slots": ("id", "item_id"), "sections": ("slot_id",)}
_KEYS = {"slots": ("id",)}


def _tables(engine: sa.Engine) -> dict[str, sa.Table]:
    """The tables as they are, ids typed as UUIDs (SQLite reflects them as CHAR(32))."""
    meta = sa.MetaData()
    for name, cols in _UUIDS.items():
        columns = (sa.Column(c, sa.Uuid(), primary_key=c in _KEYS.get(name, ())) for c in cols)
        sa.Table(name, meta, *columns, autoload_with=engine)
    meta.reflect(engine, extend_existing=False)
    return dict(meta.tables)


def _seed(engine: sa.Engine) -> dict[str, uuid.UUID]:
    """At revision 0002: a queued series (source sections), a processed series (its files in
    metadata, output sections) and a read-only series (sections with both)."""
    t = _tables(engine)
    now = utcnow()
    ids = {k: uuid.uuid4() for k in ("queued", "processed", "readonly")}
    with engine.begin() as conn:
        seed_team_and_dataset(conn, t, now)
        for n, (label, slot_id) in enumerate(ids.items()):
            item_id = uuid.uuid4()
            conn.execute(
                t["items"].insert(),
                {"id": item_id, "team_id": 1, "dataset_id": 1, "name": label, "path": "/",
                 "status": "new", "processing_status": "processing", "archived": False,
                 "priority": 0, "primary_type": "dicom", "layout": {}, "options": {},
                 "inserted_at": now, "updated_at": now},
            )  # fmt: skip
            files = [{"storage_key": f"{label}/{i}.dcm", "file_name": f"{i}.dcm"} for i in (1, 2)]
            metadata = {"position": 0}
            if label == "processed":
                metadata["source_files"] = files  # type: ignore[assignment]
            conn.execute(
                t["slots"].insert(),
                {"id": slot_id, "item_id": item_id, "position": n, "slot_name": "0",
                 "type": "dicom", "kind": "dicom", "file_name": "1.dcm",
                 "storage_key": files[0]["storage_key"], "as_frames": False,
                 "extract_views": False, "metadata": metadata, "total_sections": 2},
            )  # fmt: skip
            for i, f in enumerate(files, start=1):
                row = {"slot_id": slot_id, "section_index": i, "width": 8, "height": 8}
                if label != "processed":
                    row |= {"storage_key": f["storage_key"], "file_name": f["file_name"]}
                if label != "queued":
                    row |= {"storage_hq_key": f"hq/{i}.png", "storage_lq_key": f"lq/{i}.jpg"}
                conn.execute(t["sections"].insert(), row)
    return ids


def test_series_files_move_to_the_slot(engine: sa.Engine) -> None:
    cfg = alembic_config(engine)
    command.upgrade(cfg, "0002")
    ids = _seed(engine)
    command.upgrade(cfg, "head")

    tables = _tables(engine)
    slots, sections = tables["slots"], tables["sections"]
    assert "storage_key" not in sections.c and "file_name" not in sections.c
    with engine.connect() as conn:
        for label, slot_id in ids.items():
            files, metadata = conn.execute(
                sa.select(slots.c.source_files, slots.c.metadata).where(slots.c.id == slot_id)
            ).one()
            assert files == [
                {"storage_key": f"{label}/{i}.dcm", "file_name": f"{i}.dcm"} for i in (1, 2)
            ], label
            assert "source_files" not in metadata, label
            left = conn.execute(
                sa.select(sections.c.storage_hq_key).where(sections.c.slot_id == slot_id)
            ).scalars()
            # the queued series' sections were its files only; derivatives stay
            assert list(left) == ([] if label == "queued" else ["hq/1.png", "hq/2.png"]), label

    command.downgrade(cfg, "0002")
    slots = _tables(engine)["slots"]
    assert "source_files" not in slots.c
    with engine.connect() as conn:
        metadata = conn.execute(
            sa.select(slots.c.metadata).where(slots.c.id == ids["queued"])
        ).scalar_one()
    assert [f["storage_key"] for f in metadata["source_files"]] == ["queued/1.dcm", "queued/2.dcm"]
