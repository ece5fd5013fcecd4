"""Hostile input to the bulk item operations: a 4xx naming the field, never a 5xx; and
nothing of another team is touched."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_team
from tests.helpers import REGISTER, make_storage

V2 = "/api/v2/teams/acme/items"
UUID = "00000000-0000-4000-8000-000000000000"
F = {"item_ids": [UUID]}

CASES = [
    ("POST", "slots/tags", [], 400, "body"),
    ("POST", "slots/tags", {"annotation_class_id": 1}, 400, "filters"),
    ("POST", "slots/tags", {"filters": {}, "annotation_class_id": 1}, 400, "filters"),
    ("POST", "slots/tags", {"filters": {"item_ids": ["x"]}, "tag": "a"}, 400, "item_ids"),
    ("POST", "slots/tags", {"filters": {"dataset_ids": "one"}, "tag": "a"}, 400, "dataset_ids"),
    ("POST", "slots/tags", {"filters": F, "annotation_class_id": "7"}, 422, "annotation_class_id"),
    ("POST", "slots/tags", {"filters": F, "annotation_class_id": True}, 422, "annotation_class_id"),
    ("POST", "slots/tags", {"filters": F, "annotation_class_id": -1}, 422, "annotation_class_id"),
    ("DELETE", "slots/tags", {"filters": F, "annotation_class_id": 2**40}, 422, "annotation_class_id"),
    ("POST", "slots/tags", {"filters": F}, 422, "body"),
    ("POST", "slots/tags", {"filters": F, "tag": "a", "annotation_class_id": 1}, 422, "body"),
    ("POST", "slots/tags", {"filters": F, "tag": "a\x00b"}, 422, "tag"),
    ("POST", "slots/tags", {"filters": F, "tag": "x" * 201}, 422, "tag"),
    ("DELETE", "slots/tags", {"filters": F, "tag": "a", "colour": 1}, 422, "colour"),
    ("POST", "path", {"filters": F}, 422, "path"),
    ("POST", "path", {"filters": F, "path": 3}, 422, "path"),
    ("POST", "path", {"filters": F, "path": "/a\nb"}, 422, "path"),
    ("POST", "path", {"filters": F, "path": "/" + "a" * 1024}, 422, "path"),
    ("POST", "path", {"filters": F, "path": "/a/../b"}, 400, "path"),
    ("POST", "layout", {"filters": F}, 422, "layout"),
    ("POST", "layout", {"filters": F, "layout": "grid"}, 422, "layout"),
    ("POST", "layout", {"filters": F, "layout": {"slots": ["0"], "type": "x", "version": 1}},
     422, "layout.type"),
    ("POST", "layout", {"filters": F, "layout": {"slots": [], "type": "grid", "version": 1}},
     422, "layout.slots"),
    ("POST", "layout", {"filters": F, "layout": {"slots": ["0"], "type": "grid", "version": 3}},
     422, "layout.version"),
    ("POST", "layout", {"filters": F, "layout": {"slots": ["0"], "type": "grid", "version": 2}},
     422, "layout"),
    ("POST", "layout",
     {"filters": F, "layout": {"slots": ["0"], "type": "grid", "version": 2, "layout_shape": [0]}},
     422, "layout"),
    ("POST", "layout",
     {"filters": F, "layout": {"slots": ["0"], "type": "grid", "version": 1, "x": 1}},
     422, "layout.x"),
    ("POST", "priority", {"filters": F}, 422, "priority"),
    ("POST", "priority", {"filters": F, "priority": "high"}, 422, "priority"),
    ("POST", "priority", {"filters": F, "priority": True}, 422, "priority"),
    ("POST", "priority", {"filters": F, "priority": 1.5}, 422, "priority"),
    ("POST", "priority", {"filters": F, "priority": 2**31}, 422, "priority"),
    ("POST", "priority", {"filters": {"item_paths": ["/\x00"]}, "priority": 1}, 400, "item_paths"),
    ("POST", "assign", {"filters": F, "assignee_id": 1, "workflow_id": "w"}, 422, "assignee_id"),
    ("POST", "assign", {"assignee_id": 1}, 400, "filters"),
    ("POST", "stage", {"filters": F, "stage_id": "s", "workflow_id": "w"}, 422, "stage_id"),
]  # fmt: skip


class TestHostileInput:
    @pytest.mark.parametrize(("method", "path", "body", "status", "field"), CASES)
    def test_bad_body_names_the_field(self, api: TestClient, method, path, body, status, field):
        r = api.request(method, f"{V2}/{path}", json=body)
        assert r.status_code == status, r.text
        assert field in r.json()["error"]["field"], r.text

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("dataset_ids=x", "dataset_ids"),
            ("item_ids[]=nope", "item_ids[]"),
            ("colour=red", "colour"),
            ("statuses=75611", "statuses"),
            ("statuses[]=annotated", "statuses"),
            ("slot_types[]=-2709", "slot_types"),
            ("slot_types=image,movie", "slot_types"),
            ("page[size]=1&page[size]=2", "page[size]"),
        ],
    )
    def test_bad_list_ids_query(self, api: TestClient, query, field) -> None:
        r = api.get(f"{V2}/list_ids?{query}")
        assert 400 <= r.status_code < 500, r.text
        assert field in r.json()["error"]["field"], r.text

    def test_workflow_stage_ids_are_not_supported(self, api: TestClient) -> None:
        r = api.get(f"{V2}/ids?workflow_stage_ids=s&dataset_ids=1")
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "workflow_stage_ids"


class TestIsolation:
    @pytest.fixture
    def theirs(self, api: TestClient, ctx, dataset, bucket, put_file) -> dict:
        """acme's item, seen by rival."""
        make_storage(api)
        put_file("a.jpg")
        body = {
            "items": [{"name": "a.jpg", "path": "/", "storage_key": "a.jpg"}],
            "dataset_slug": "darwin-py",
            "storage_slug": "media",
        }
        item = api.post(REGISTER, json=body).json()["items"][0]
        rival = make_team(ctx, "rival")
        return {"item": item, "dataset": dataset, "headers": rival.headers}

    @pytest.mark.parametrize(
        ("method", "path", "extra"),
        [
            ("POST", "slots/tags", {"tag": "x"}),
            ("DELETE", "slots/tags", {"tag": "x"}),
            ("POST", "path", {"path": "/moved"}),
            ("POST", "layout", {"layout": {"slots": ["9"], "type": "grid", "version": 1}}),
            ("POST", "priority", {"priority": 9}),
        ],
    )
    def test_other_team_is_not_found_and_touches_nothing(
        self, api: TestClient, theirs, method, path, extra
    ) -> None:
        item, headers = theirs["item"], theirs["headers"]
        before = api.get(f"{V2}/{item['id']}").json()
        # rival names acme's dataset: 404; rival names acme's item on its own path: nothing
        body = {"filters": {"dataset_ids": [theirs["dataset"]["id"]], "item_ids": [item["id"]]}}
        r = api.request(method, f"/api/v2/teams/rival/items/{path}", json=body | extra,
                        headers=headers)  # fmt: skip
        assert r.status_code == 404, r.text
        assert r.json()["error"]["field"] == "filters.dataset_ids"
        body = {"filters": {"item_ids": [item["id"]]}}
        r = api.request(method, f"/api/v2/teams/rival/items/{path}", json=body | extra,
                        headers=headers)  # fmt: skip
        assert r.status_code == 200, r.text
        # rival's key on acme's path
        r = api.request(method, f"{V2}/{path}", json=body | extra, headers=headers)
        assert r.status_code == 404, r.text
        after = api.get(f"{V2}/{item['id']}").json()
        assert {k: after[k] for k in ("path", "layout", "priority", "tags")} == {
            k: before[k] for k in ("path", "layout", "priority", "tags")
        }

    def test_list_ids_of_another_team(self, api: TestClient, theirs) -> None:
        headers = theirs["headers"]
        r = api.get(f"/api/v2/teams/rival/items/list_ids?dataset_ids={theirs['dataset']['id']}",
                    headers=headers)  # fmt: skip
        assert r.status_code == 404
        r = api.get("/api/v2/teams/rival/items/list_ids", headers=headers)
        assert r.json() == {"item_ids": []}
