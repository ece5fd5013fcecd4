"""index upkeep: no second index on slots.item_id; the source-status index holds only missing

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NOT_NULL = sa.text("source_status IS NOT NULL")


def upgrade() -> None:
    # uq_slots_item_slot_name (item_id, slot_name) serves every lookup by item_id
    op.drop_index("ix_slots_item_id", table_name="slots")
    op.drop_index("ix_items_dataset_source_status", table_name="items")
    op.create_index(
        "ix_items_dataset_source_status",
        "items",
        ["dataset_id", "source_status", "seq"],
        postgresql_where=NOT_NULL,
        sqlite_where=NOT_NULL,
    )


def downgrade() -> None:
    op.drop_index("ix_items_dataset_source_status", table_name="items")
    op.create_index(
        "ix_items_dataset_source_status", "items", ["dataset_id", "source_status", "seq"]
    )
    op.create_index("ix_slots_item_id", "slots", ["item_id"])
