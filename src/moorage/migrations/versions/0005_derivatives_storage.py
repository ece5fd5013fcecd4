"""storages: bucket events and a derivatives storage; slots: where their derivatives are

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("storages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "events",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("derivatives_storage_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_storages_derivatives_storage_id_storages"),
            "storages",
            ["derivatives_storage_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("derivatives_storage_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_column("derivatives_storage_id")
    with op.batch_alter_table("storages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_storages_derivatives_storage_id_storages"), type_="foreignkey"
        )
        batch_op.drop_column("derivatives_storage_id")
        batch_op.drop_column("events")
