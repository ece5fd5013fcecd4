"""the bookkeeping tables' foreign keys go: jobs.item_id, sync_keys.{dataset,storage,item}_id

A sync writes a job and a sync key for every file, and PostgreSQL checked these four keys with
one query a row: 38 % of the database's CPU in a first sync. A job or a sync key is written
only with its item, dataset and storage, by moorage, in the same transaction; the services that
delete an item, its jobs or a storage delete or detach these rows themselves, in the same
transaction (decision 0047). The columns and their indexes stay.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: (table, constraint, column, referred table, on delete)
DROPPED = (
    ("jobs", "fk_jobs_item_id_items", "item_id", "items", "CASCADE"),
    ("sync_keys", "fk_sync_keys_dataset_id_datasets", "dataset_id", "datasets", "CASCADE"),
    ("sync_keys", "fk_sync_keys_storage_id_storages", "storage_id", "storages", "CASCADE"),
    ("sync_keys", "fk_sync_keys_item_id_items", "item_id", "items", "SET NULL"),
)


def upgrade() -> None:
    for table in ("jobs", "sync_keys"):
        with op.batch_alter_table(table) as batch_op:
            for t, name, _column, _referred, _on_delete in DROPPED:
                if t == table:
                    batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table in ("jobs", "sync_keys"):
        with op.batch_alter_table(table) as batch_op:
            for t, name, column, referred, on_delete in DROPPED:
                if t == table:
                    batch_op.create_foreign_key(
                        name, referred, [column], ["id"], ondelete=on_delete
                    )
