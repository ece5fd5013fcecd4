"""cleanups: deleting the derivatives of deleted items, as a job after the commit

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "cleanups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("targets", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("error", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_cleanups_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cleanups")),
    )
    op.create_index(op.f("ix_cleanups_team_id"), "cleanups", ["team_id"], unique=False)
    op.create_index(
        "ix_cleanups_status_updated", "cleanups", ["status", "updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_cleanups_status_updated", table_name="cleanups")
    op.drop_index(op.f("ix_cleanups_team_id"), table_name="cleanups")
    op.drop_table("cleanups")
