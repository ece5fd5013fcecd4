from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from moorage.context import AppContext
from tests.conftest import make_team


class TestDatasets:
    @pytest.mark.parametrize(
        ("name", "slug"),
        [("Darwin Py", "darwin-py"), ("  Cars & Trucks!! 2024 ", "cars-trucks-2024")],
    )
    def test_slug_from_name(self, api: TestClient, name: str, slug: str) -> None:
        r = api.post("/api/datasets", json={"name": name})
        assert r.status_code == 200
        body = r.json()
        assert body["slug"] == slug
        assert isinstance(body["id"], int) and body["progress"] == 0.0 and body["num_items"] == 0

    def test_duplicate_name_is_darwin_422(self, api: TestClient) -> None:
        api.post("/api/datasets", json={"name": "Cars"})
        r = api.post("/api/datasets", json={"name": "cars"})
        assert r.status_code == 422
        assert r.json()["errors"] == {"name": ["has already been taken"]}

    @pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 5}, {"name": "!!!"}])
    def test_bad_names(self, api: TestClient, body: dict) -> None:
        r = api.post("/api/datasets", json=body)
        assert r.status_code == 422 and r.json()["error"]["field"] == "name"

    def test_get_archive_and_list(self, api: TestClient) -> None:
        ds = api.post("/api/datasets", json={"name": "Cars"}).json()
        assert api.get(f"/api/datasets/{ds['id']}").json()["slug"] == "cars"
        assert api.get("/api/datasets/").json()[0]["slug"] == "cars"  # darwin-py's trailing slash
        archived = api.put(f"/api/datasets/{ds['id']}/archive").json()
        assert archived["archived"] is True
        assert api.get("/api/datasets").json() == []

    def test_counts_by_type(self, api: TestClient, bucket, put_file) -> None:
        ds = api.post("/api/datasets", json={"name": "Cars"}).json()
        api.post(
            "/api/teams/acme/storage",
            json={"name": "media", "provider": "local", "bucket": "media"},
        )
        put_file("a.jpg")
        put_file("v.mp4", b"x")
        api.post(
            "/api/v2/teams/acme/items/register_existing",
            json={
                "items": [
                    {"name": "a.jpg", "storage_key": "a.jpg"},
                    {"name": "v.mp4", "storage_key": "v.mp4"},
                ],
                "dataset_slug": "cars",
                "storage_slug": "media",
            },
        )
        body = api.get(f"/api/datasets/{ds['id']}").json()
        assert (body["num_items"], body["num_images"], body["num_videos"]) == (2, 1, 1)

    def test_other_teams_dataset_is_404(
        self, api: TestClient, client: TestClient, ctx: AppContext
    ) -> None:
        ds = api.post("/api/datasets", json={"name": "Cars"}).json()
        other = make_team(ctx, "other")
        assert client.get(f"/api/datasets/{ds['id']}", headers=other.headers).status_code == 404
        assert (
            client.put(f"/api/datasets/{ds['id']}/archive", headers=other.headers).status_code
            == 404
        )
        assert client.get("/api/datasets", headers=other.headers).json() == []
