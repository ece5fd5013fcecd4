"""POST /items/reprocess: the matching items' jobs run again on the object as it is now."""

from __future__ import annotations

from fastapi.testclient import TestClient

from moorage.context import AppContext
from moorage.worker.runtime import Runtime
from tests.conftest import make_team
from tests.helpers import REGISTER, jpeg_bytes, make_storage

ITEMS = "/api/v2/teams/acme/items"


def _register_broken(api: TestClient, put_file) -> dict:
    make_storage(api)
    put_file("photo.jpg", b"\xff\xd8\xff\xe0 not a jpeg at all")
    r = api.post(
        REGISTER,
        json={
            "items": [{"name": "photo.jpg", "storage_key": "photo.jpg"}],
            "dataset_slug": "darwin-py",
            "storage_slug": "media",
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["items"][0]


class TestReprocess:
    def test_a_fixed_file_processes_after_reprocess(
        self, api, dataset, put_file, runtime: Runtime
    ) -> None:
        item = _register_broken(api, put_file)
        runtime.join()
        assert api.get(f"{ITEMS}/{item['id']}").json()["processing_status"] == "error"
        put_file("photo.jpg", jpeg_bytes(640, 480))
        r = api.post(f"{ITEMS}/reprocess", json={"filters": {"item_ids": [item["id"]]}})
        assert (r.status_code, r.json()) == (200, {"queued": 1})
        runtime.join()
        done = api.get(f"{ITEMS}/{item['id']}").json()
        assert done["processing_status"] == "complete" and "processing_error" not in done
        assert done["slots"][0]["metadata"]["width"] == 640
        # by status, as the gallery's button sends it: nothing is in error any more
        r = api.post(f"{ITEMS}/reprocess", json={"filters": {"statuses": ["error"]}})
        assert r.json() == {"queued": 0}

    def test_another_teams_items_are_not_touched(
        self, api, client, ctx: AppContext, dataset, put_file, runtime: Runtime
    ) -> None:
        item = _register_broken(api, put_file)
        runtime.join()
        other = make_team(ctx, "globex")
        r = client.post(
            "/api/v2/teams/globex/items/reprocess",
            json={"filters": {"item_ids": [item["id"]]}},
            headers=other.headers,
        )
        assert (r.status_code, r.json()) == (200, {"queued": 0})
        r = client.post(
            f"{ITEMS}/reprocess",
            json={"filters": {"item_ids": [item["id"]]}},
            headers=other.headers,
        )
        assert r.status_code == 404
        assert api.get(f"{ITEMS}/{item['id']}").json()["processing_status"] == "error"

    def test_hostile_bodies_are_4xx_naming_the_field(self, api, dataset) -> None:
        for body, field in (
            ({}, "filters"),
            ({"filters": {}}, "filters"),
            ({"filters": "all"}, "filters"),
            ({"filters": {"item_ids": "x\u0000"}}, "item_ids"),
            ({"filters": {"item_ids": {"$ne": 1}}}, "filters.item_ids"),
        ):
            r = api.post(f"{ITEMS}/reprocess", json=body)
            assert 400 <= r.status_code < 500, (body, r.text)
            assert r.json()["error"]["field"] == field, (body, r.json())
        r = api.post(
            f"{ITEMS}/reprocess", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 or r.status_code == 422
