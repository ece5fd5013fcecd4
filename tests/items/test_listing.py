from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from moorage.items.filters import SORT_FIELDS
from tests.helpers import REGISTER, make_storage

LIST = "/api/v2/teams/acme/items"


@pytest.fixture
def seeded(api: TestClient, dataset, bucket, put_file) -> dict:
    make_storage(api)
    put_file("a.jpg")
    put_file("v.mp4", b"x")
    items = [
        {
            "name": f"img{i:02d}.jpg",
            "path": "/cars" if i % 2 else "/",
            "storage_key": "a.jpg",
            "priority": i % 3,
        }
        for i in range(12)
    ]
    items.append({"name": "clip.mp4", "path": "/videos", "storage_key": "v.mp4"})
    r = api.post(
        REGISTER, json={"items": items, "dataset_slug": "darwin-py", "storage_slug": "media"}
    )
    assert r.json()["blocked_items"] == []
    return dataset


def _all(api: TestClient, query: str) -> list[dict]:
    out, cursor = [], None
    while True:
        q = query + (f"&page[from]={cursor}" if cursor else "")
        body = api.get(f"{LIST}?{q}").json()
        out.extend(body["items"])
        cursor = body["page"]["next"]
        if not cursor:
            return out


class TestListing:
    def test_keyset_pages_cover_everything_once(self, api, seeded) -> None:
        items = _all(api, f"page[size]=5&dataset_ids[]={seeded['id']}")
        assert len(items) == 13
        assert len({i["id"] for i in items}) == 13

    def test_both_dataset_id_spellings(self, api, seeded) -> None:
        a = api.get(f"{LIST}?dataset_ids%5B%5D={seeded['id']}").json()["items"]
        b = api.get(f"{LIST}?dataset_ids={seeded['id']}").json()["items"]
        assert [i["id"] for i in a] == [i["id"] for i in b]
        assert len(a) == 13

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("item_names[]=img01.jpg&item_names[]=img02.jpg", {"img01.jpg", "img02.jpg"}),
            ("item_names=img01.jpg,img02.jpg", {"img01.jpg", "img02.jpg"}),
            ("item_paths[]=/videos", {"clip.mp4"}),
            ("slot_types[]=video", {"clip.mp4"}),
            ("statuses=processing&item_paths[]=/videos", {"clip.mp4"}),
            ("statuses=new", set()),
        ],
    )
    def test_filters(self, api, seeded, query, expected) -> None:
        names = {i["name"] for i in _all(api, f"dataset_ids={seeded['id']}&{query}")}
        assert names == expected

    @pytest.mark.parametrize(
        "field", ["filename", "priority", "updated_at", "inserted_at", "file_size"]
    )
    @pytest.mark.parametrize("direction", ["asc", "desc"])
    def test_sorts_page_consistently(self, api, seeded, field, direction) -> None:
        paged = _all(api, f"dataset_ids={seeded['id']}&sort[{field}]={direction}&page[size]=4")
        whole = api.get(f"{LIST}?dataset_ids={seeded['id']}&sort[{field}]={direction}").json()[
            "items"
        ]
        assert [i["id"] for i in paged] == [i["id"] for i in whole]
        if field == "filename":
            names = [i["name"] for i in whole]
            assert names == sorted(names, reverse=direction == "desc")

    def test_item_shape_never_has_null_workflow_or_size(self, api, seeded) -> None:
        item = api.get(f"{LIST}?dataset_ids={seeded['id']}").json()["items"][0]
        for key in (
            "id",
            "name",
            "path",
            "status",
            "archived",
            "dataset_id",
            "slots",
            "processing_status",
            "layout",
            "slot_types",
            "tags",
            "priority",
            "inserted_at",
            "updated_at",
        ):
            assert key in item
        assert "workflow_data" not in item and "size_bytes" not in item
        assert isinstance(item["slots"][0]["metadata"], dict)

    def test_bad_cursor_and_sort_are_400(self, api, seeded) -> None:
        assert api.get(f"{LIST}?page[from]=garbage").status_code == 400
        assert api.get(f"{LIST}?sort[colour]=asc").status_code == 400
        assert api.get(f"{LIST}?page[size]=0").status_code == 400
        assert api.get(f"{LIST}?dataset_ids=abc").json()["error"]["field"] == "dataset_ids"

    @pytest.mark.parametrize("param", ["processing_status=error", "status=new", "page[number]=2"])
    def test_unknown_parameter_is_422_naming_it(self, api, seeded, param: str) -> None:
        """An unknown filter must not silently list every item."""
        r = api.get(f"{LIST}?{param}")
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == param.split("=")[0]


class TestOpenApi:
    @pytest.mark.parametrize(
        "path", ["/api/v2/teams/{team}/items", "/api/v2/teams/{team}/items/folders"]
    )
    def test_every_query_parameter_is_declared_with_its_type(self, client, path: str) -> None:
        params = client.get("/openapi.json").json()["paths"][path]["get"]["parameters"]
        query = {p["name"]: p["schema"] for p in params if p["in"] == "query"}
        for name in ("dataset_ids", "item_ids", "item_names", "item_paths", "statuses"):
            assert query[name]["type"] == "array", name
            assert query[f"{name}[]"]["type"] == "array", name
        assert query["slot_types[]"]["items"] == {"type": "string"}
        assert query["dataset_ids[]"]["items"] == {"type": "integer"}
        assert query["item_ids[]"]["items"] == {"type": "string", "format": "uuid"}
        assert {"type": "integer"} in query["page[size]"]["anyOf"]
        assert {"type": "string"} in query["page[from]"]["anyOf"]
        sorts = {n for n in query if n.startswith("sort[")}
        assert sorts == {f"sort[{f}]" for f in SORT_FIELDS}
        assert "include_workflow_data" in query

    def test_repeated_and_mixed_spellings_add_up(self, api, seeded) -> None:
        q = "item_names[]=img01.jpg&item_names=img02.jpg,img03.jpg&item_names=img04.jpg"
        names = {i["name"] for i in _all(api, f"dataset_ids[]={seeded['id']}&{q}")}
        assert names == {"img01.jpg", "img02.jpg", "img03.jpg", "img04.jpg"}
        assert {i["name"] for i in _all(api, "filenames[]=img05.jpg")} == {"img05.jpg"}

    @pytest.mark.parametrize(
        "param", ["page[size]=2", "sort[filename]=asc", "include_workflow_data=1"]
    )
    def test_a_one_value_parameter_sent_twice_is_422(self, api, seeded, param: str) -> None:
        r = api.get(f"{LIST}?{param}&{param}")
        assert r.status_code == 422 and r.json()["error"]["field"] == param.split("=")[0]

    def test_a_badly_typed_value_names_its_parameter(self, api, seeded) -> None:
        r = api.get(f"{LIST}?item_ids[]=not-a-uuid")
        assert r.status_code == 422 and r.json()["error"]["field"].startswith("item_ids[]")


class TestOneItemAndFolders:
    def test_get_one_and_unknown(self, api, seeded) -> None:
        first = api.get(LIST).json()["items"][0]
        one = api.get(f"{LIST}/{first['id']}").json()
        assert one["name"] == first["name"]
        assert "cursor" in first and "cursor" not in one  # a cursor only means a page
        assert api.get(f"{LIST}/00000000-0000-0000-0000-000000000000").status_code == 404
        assert api.get(f"{LIST}/not-a-uuid").status_code == 404

    def test_folders_with_counts(self, api, seeded) -> None:
        body = api.get(f"{LIST}/folders?dataset_ids={seeded['id']}").json()
        counts = {f["path"]: f["unfiltered_item_count"] for f in body["folders"]}
        assert counts == {"/": 6, "/cars": 6, "/videos": 1}


class TestArchiveRestoreDelete:
    def test_cycle(self, api, seeded) -> None:
        items = api.get(f"{LIST}?item_paths[]=/videos").json()["items"]
        ids = [i["id"] for i in items]
        assert api.post(f"{LIST}/archive", json={"filters": {"item_ids": ids}}).json() == {}
        item = api.get(f"{LIST}/{ids[0]}").json()
        assert (item["archived"], item["status"]) == (True, "archived")
        assert len(api.get(f"{LIST}?statuses=archived").json()["items"]) == 1
        api.post(f"{LIST}/restore", json={"filters": {"item_ids": ids}})
        assert api.get(f"{LIST}/{ids[0]}").json()["archived"] is False
        r = api.request(
            "DELETE", LIST, json={"filters": {"item_ids": ids, "dataset_ids": [seeded["id"]]}}
        )
        assert (r.status_code, r.json()) == (200, {})
        assert api.get(f"{LIST}/{ids[0]}").status_code == 404
        assert len(_all(api, "page[size]=100")) == 12

    def test_empty_filters_refused(self, api, seeded) -> None:
        r = api.request("DELETE", LIST, json={"filters": {}})
        assert r.status_code == 400
        assert len(_all(api, "page[size]=100")) == 13

    def test_other_teams_items_untouched(self, api, client, ctx, seeded) -> None:
        from tests.conftest import make_team

        other = make_team(ctx, "other")
        ids = [i["id"] for i in api.get(LIST).json()["items"]]
        r = client.request(
            "DELETE",
            "/api/v2/teams/other/items",
            json={"filters": {"item_ids": ids}},
            headers=other.headers,
        )
        assert r.status_code == 200
        assert len(_all(api, "page[size]=100")) == 13
        assert (
            client.get(f"/api/v2/teams/other/items/{ids[0]}", headers=other.headers).status_code
            == 404
        )
