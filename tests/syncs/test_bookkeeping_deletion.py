"""Jobs and sync keys have no foreign keys (decision 0047): the services that delete items and
storages delete or detach them in the same transaction, and another team's rows are untouched."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient

from moorage.context import AppContext
from tests.conftest import make_team
from tests.syncs.test_sync_local import ITEMS, items

STORAGE = "/api/teams/acme/storage/media"


def _rows(ctx: AppContext, sql: str) -> list[tuple]:
    with ctx.db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_deleting_items_deletes_their_jobs_and_detaches_their_keys(
    api: TestClient, ctx: AppContext, dataset: dict, put_file: Callable, sync_once: Callable
) -> None:
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        put_file(name)
    assert sync_once()["counts"]["registered"] == 3
    gone = [i["id"] for i in items(api, dataset) if i["name"] != "c.jpg"]
    r = api.request("DELETE", ITEMS, json={"filters": {"item_ids": gone}})
    assert r.status_code == 200, r.text

    keys = _rows(ctx, "SELECT key, item_id IS NULL FROM sync_keys ORDER BY key")
    assert keys == [("a.jpg", True), ("b.jpg", True), ("c.jpg", False)]
    assert _rows(ctx, "SELECT count(*) FROM jobs WHERE item_id NOT IN (SELECT id FROM items)") == [
        (0,)
    ]
    assert _rows(ctx, "SELECT count(*) FROM jobs") == [(1,)]


def test_deleting_a_storage_forgets_its_keys_and_no_other_teams(
    api: TestClient, client: TestClient, ctx: AppContext, dataset: dict, put_file: Callable,
    sync_once: Callable,
) -> None:  # fmt: skip
    put_file("a.jpg")
    put_file("b.txt")  # blocked: a key the sync remembers without an item
    sync_once()
    other = make_team(ctx, "other")
    theirs = (
        "INSERT INTO sync_keys (dataset_id, storage_id, key, state) VALUES ({}, {}, 'x', 'present')"
    )
    storage_id = _rows(ctx, "SELECT id FROM storages WHERE slug = 'media'")[0][0]
    r = client.post("/api/datasets", json={"name": "theirs"}, headers=other.headers)
    other_dataset = r.json()["id"]
    with ctx.db.engine.begin() as conn:  # a row no service of acme's may touch
        conn.execute(sa.text(theirs.format(other_dataset, storage_id)))
    ids = [i["id"] for i in items(api, dataset)]
    api.request("DELETE", ITEMS, json={"filters": {"item_ids": ids}})

    assert api.delete(STORAGE).status_code == 200
    assert _rows(ctx, "SELECT dataset_id, key FROM sync_keys") == [(other_dataset, "x")]
