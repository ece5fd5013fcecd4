"""foreign keys implied by others go: items.team_id, jobs.team_id, jobs.slot_id, uploads.slot_id

A sync writes an item, a slot, a job and a sync key for every file; PostgreSQL checks each
foreign key with one query a row. The team of an item or a job is its dataset's (deleting a
team deletes its datasets, and they their items); a job's or an upload's slot is one of its
item's (slots are only deleted with their item, which deletes the job and the upload through
the indexed ``item_id``). The two ``slot_id`` keys had no index either, so every slot deleted
scanned jobs and uploads in full. The columns stay (decision 0044).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: (table, constraint, column, referred table)
DROPPED = (
    ("items", "fk_items_team_id_teams", "team_id", "teams"),
    ("jobs", "fk_jobs_team_id_teams", "team_id", "teams"),
    ("jobs", "fk_jobs_slot_id_slots", "slot_id", "slots"),
    ("uploads", "fk_uploads_slot_id_slots", "slot_id", "slots"),
)


def upgrade() -> None:
    for table in ("items", "jobs", "uploads"):
        with op.batch_alter_table(table) as batch_op:
            for t, name, _column, _referred in DROPPED:
                if t == table:
                    batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table in ("items", "jobs", "uploads"):
        with op.batch_alter_table(table) as batch_op:
            for t, name, column, referred in DROPPED:
                if t == table:
                    batch_op.create_foreign_key(
                        name, referred, [column], ["id"], ondelete="CASCADE"
                    )
