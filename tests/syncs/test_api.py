"""The sync endpoints: shape, paging, cancel, team isolation and hostile input."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from moorage.app import create_app
from tests.conftest import make_team
from tests.syncs.conftest import SYNC, SYNCS, wait_for

LIST = "/api/v2/teams/acme/syncs"


@pytest.fixture
def queued(api: TestClient, dataset: dict, rw_storage: dict) -> dict:
    """A sync created with no worker running: it stays queued."""
    r = api.post(SYNCS.format(dataset=dataset["slug"]), json={"storage_slug": "media"})
    assert r.status_code == 202, r.text
    return r.json()


class TestShape:
    def test_created_sync_object(self, queued: dict) -> None:
        assert queued["state"] == "queued"
        assert queued["dataset_slug"] == "darwin-py" and queued["storage_slug"] == "media"
        assert set(queued["counts"]) == {
            "listed",
            "registered",
            "unchanged",
            "changed",
            "blocked",
            "missing",
            "restored",
        }
        assert queued["blocked"] == [] and queued["error"] is None
        assert queued["started_at"] is None and queued["finished_at"] is None
        assert queued["options"]["on_missing"] == "mark" and queued["options"]["group"] == "none"

    def test_list_newest_first_and_paged(self, api, dataset, rw_storage) -> None:
        ids = [
            api.post(SYNCS.format(dataset=dataset["slug"]), json={"storage_slug": "media"}).json()[
                "id"
            ]
            for _ in range(3)
        ]
        first = api.get(LIST, params={"page[size]": "2"}).json()
        assert [s["id"] for s in first["syncs"]] == ids[::-1][:2]
        rest = api.get(LIST, params={"page[size]": "2", "page[from]": first["page"]["next"]})
        assert [s["id"] for s in rest.json()["syncs"]] == [ids[0]]
        assert rest.json()["page"]["next"] is None

    def test_cancel_a_queued_sync(self, api, queued) -> None:
        r = api.post(SYNC.format(id=queued["id"]) + "/cancel")
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        assert r.json()["finished_at"] is not None
        again = api.post(SYNC.format(id=queued["id"]) + "/cancel")
        assert again.status_code == 200, "cancelling twice is no error"

    def test_cancel_a_complete_sync_is_409(self, api, dataset, rw_storage, runtime) -> None:
        r = api.post(SYNCS.format(dataset=dataset["slug"]), json={"storage_slug": "media"})
        done = wait_for(api, r.json()["id"])
        assert done["state"] == "complete"
        r = api.post(SYNC.format(id=done["id"]) + "/cancel")
        assert r.status_code == 409 and r.json()["error"]["field"] == "id"


class TestIsolation:
    def test_another_teams_sync_is_404(self, ctx, api, queued) -> None:
        other = make_team(ctx, "rival")
        with TestClient(create_app(ctx.settings, ctx)) as rival:
            rival.headers.update(other.headers)
            base = f"/api/v2/teams/rival/syncs/{queued['id']}"
            assert rival.get(base).status_code == 404
            assert rival.post(base + "/cancel").status_code == 404
            assert rival.get("/api/v2/teams/rival/syncs").json()["syncs"] == []
            # the path naming the owner's team is 404 too, never 403
            assert rival.get(SYNC.format(id=queued["id"])).status_code == 404
            assert rival.post(SYNC.format(id=queued["id"]) + "/cancel").status_code == 404
            assert rival.get(LIST).status_code == 404
            r = rival.post(
                "/api/v2/teams/rival/datasets/darwin-py/syncs", json={"storage_slug": "media"}
            )
            assert r.status_code == 404 and r.json()["error"]["field"] == "dataset_slug"
        assert api.get(SYNC.format(id=queued["id"])).json()["state"] == "queued"

    def test_another_teams_storage_is_404(self, ctx, api, dataset, storage_root) -> None:
        other = make_team(ctx, "rival")
        (storage_root / "rival" / "x").mkdir(parents=True)
        with TestClient(create_app(ctx.settings, ctx)) as rival:
            rival.headers.update(other.headers)
            r = rival.post(
                "/api/teams/rival/storage",
                json={"name": "theirs", "slug": "theirs", "provider": "local", "bucket": "x"},
            )
            assert r.status_code == 200, r.text
        r = api.post(SYNCS.format(dataset=dataset["slug"]), json={"storage_slug": "theirs"})
        assert r.status_code == 404 and r.json()["error"]["field"] == "storage_slug"


HOSTILE = [
    ({"storage_slug": "media", "prefix": "a\x00b"}, "prefix"),
    ({"storage_slug": "media", "prefix": "/abs"}, "prefix"),
    ({"storage_slug": "media", "prefix": "a/../b"}, "prefix"),
    ({"storage_slug": "media", "include": ["\udfff"]}, "include.0"),
    ({"storage_slug": "media", "exclude": [""]}, "exclude.0"),
    ({"storage_slug": "media", "group": "everything"}, "group"),
    ({"storage_slug": "media", "on_missing": "delete"}, "on_missing"),
    ({"storage_slug": "media", "poll_seconds": 0}, "poll_seconds"),
    ({"storage_slug": "media", "poll_seconds": 10**400}, "poll_seconds"),
    ({"storage_slug": "media", "watch": "maybe"}, "watch"),
    ({"storage_slug": "media", "surprise": 1}, "surprise"),
    ({"storage_slug": "x" * 201}, "storage_slug"),
    ({"storage_slug": "nope"}, "storage_slug"),
    ({}, "storage_slug"),
]


class TestHostileInput:
    @pytest.mark.parametrize(("body", "field"), HOSTILE)
    def test_refused_naming_the_field(self, api, dataset, rw_storage, body, field) -> None:
        import json

        raw = json.dumps(body).encode()
        r = api.post(
            SYNCS.format(dataset=dataset["slug"]),
            content=raw,
            headers={"Content-Type": "application/json"},
        )
        assert 400 <= r.status_code < 500, r.text
        assert r.json()["error"]["field"] == field, r.json()

    @pytest.mark.parametrize(
        ("url", "field"),
        [
            (SYNC.format(id="not-a-uuid"), "sync_id"),
            (SYNC.format(id="a%00b"), "sync_id"),
            (LIST + "?page[size]=0", "page[size]"),
            (LIST + "?page[size]=99999999999999999999999", "page[size]"),
            (LIST + "?page[from]=garbage", "page[from]"),
            (LIST + "?state=running", "state"),
            (SYNC.format(id=uuid.uuid4()), "id"),
        ],
    )
    def test_bad_ids_and_pages(self, api, url, field) -> None:
        r = api.get(url)
        assert 400 <= r.status_code < 500, r.text
        assert r.json()["error"]["field"] == field, r.json()

    def test_unknown_dataset_and_nul_in_slug(self, api, rw_storage) -> None:
        r = api.post(SYNCS.format(dataset="nope"), json={"storage_slug": "media"})
        assert r.status_code == 404 and r.json()["error"]["field"] == "dataset_slug"
        r = api.post(SYNCS.format(dataset="a%00b"), json={"storage_slug": "media"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "dataset_slug"
        r = api.post(SYNCS.format(dataset="x" * 300), json={"storage_slug": "media"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "dataset_slug"

    def test_source_statuses_filter_refuses_other_values(self, api) -> None:
        r = api.get("/api/v2/teams/acme/items", params={"source_statuses": "gone"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "source_statuses"
