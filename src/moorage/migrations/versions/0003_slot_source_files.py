"""slot source files: a series' files on the slot, sections hold outputs only

The files of a DICOM series held in one slot were written as ``sections`` rows (their
``storage_key`` and ``file_name``), read back by the worker, deleted, and kept in
``slots.metadata["source_files"]``. They now live in ``slots.source_files``, written once at
registration. Moves both kinds of existing rows: a slot still queued with source sections, and a
processed slot with ``metadata.source_files``; then drops the two columns from ``sections``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

_slots = sa.table(
    "slots",
    sa.column("id", sa.Uuid()),
    sa.column("metadata", _JSON),
    sa.column("source_files", _JSON),
)
_sections = sa.table(
    "sections",
    sa.column("id", sa.BigInteger()),
    sa.column("slot_id", sa.Uuid()),
    sa.column("section_index", sa.Integer()),
    sa.column("storage_key", sa.Text()),
    sa.column("file_name", sa.String(1024)),
    sa.column("storage_hq_key", sa.Text()),
)


def _files_from_sections(conn: sa.Connection) -> dict[Any, list[dict[str, str]]]:
    rows = conn.execute(
        sa.select(_sections.c.slot_id, _sections.c.storage_key, _sections.c.file_name)
        .where(_sections.c.storage_key.is_not(None))
        .order_by(_sections.c.slot_id, _sections.c.section_index)
    )
    files: dict[Any, dict[str, dict[str, str]]] = {}
    for slot_id, key, name in rows:
        files.setdefault(slot_id, {}).setdefault(key, {"storage_key": key, "file_name": name or ""})
    return {slot_id: list(by_key.values()) for slot_id, by_key in files.items()}


def upgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_files", _JSON, nullable=True))
    conn = op.get_bind()
    # a series registered but not processed yet: its files are source sections
    for slot_id, files in _files_from_sections(conn).items():
        if len(files) > 1:
            conn.execute(sa.update(_slots).where(_slots.c.id == slot_id).values(source_files=files))
    conn.execute(
        sa.delete(_sections).where(
            _sections.c.storage_key.is_not(None), _sections.c.storage_hq_key.is_(None)
        )
    )
    # a processed series: its files were parked in the slot's metadata
    parked = (
        sa.text("metadata ? 'source_files'")
        if conn.dialect.name == "postgresql"
        else sa.text("json_extract(metadata, '$.source_files') IS NOT NULL")
    )
    rows = conn.execute(sa.select(_slots.c.id, _slots.c.metadata).where(parked))
    for slot_id, meta in list(rows):
        if isinstance(meta, dict) and meta.get("source_files"):
            rest = {k: v for k, v in meta.items() if k != "source_files"}
            conn.execute(
                sa.update(_slots)
                .where(_slots.c.id == slot_id)
                .values(source_files=meta["source_files"], metadata=rest)
            )
    with op.batch_alter_table("sections", schema=None) as batch_op:
        batch_op.drop_column("file_name")
        batch_op.drop_column("storage_key")


def downgrade() -> None:
    with op.batch_alter_table("sections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_key", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("file_name", sa.String(length=1024), nullable=True))
    conn = op.get_bind()
    # the older worker reads a series' files from metadata.source_files first
    rows = conn.execute(
        sa.select(_slots.c.id, _slots.c.metadata, _slots.c.source_files).where(
            _slots.c.source_files.is_not(None)
        )
    )
    for slot_id, meta, files in list(rows):
        if files:
            conn.execute(
                sa.update(_slots)
                .where(_slots.c.id == slot_id)
                .values(metadata={**(meta or {}), "source_files": files})
            )
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_column("source_files")
