"""Request-level problems are 4xx with a JSON body naming the field; never 5xx."""

from __future__ import annotations

import pytest

from tests.helpers import REGISTER


class TestRequestErrors:
    def test_not_json(self, api, dataset, rw_storage) -> None:
        r = api.post(REGISTER, content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 422
        assert "JSON" in r.json()["error"]["message"]

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"dataset_slug": "darwin-py", "storage_slug": "media"}, "items"),
            ({"items": {}, "dataset_slug": "darwin-py", "storage_slug": "media"}, "items"),
            ({"items": [], "dataset_slug": 5, "storage_slug": "media"}, "dataset_slug"),
            ({"items": [], "storage_slug": "media"}, "dataset_slug"),
            (
                {"items": [], "dataset_slug": "darwin-py", "storage_slug": "media", "options": []},
                "options",
            ),
        ],
    )
    def test_wrong_top_level_types(self, api, dataset, rw_storage, payload, field) -> None:
        r = api.post(REGISTER, json=payload)
        assert r.status_code == 422
        assert r.json()["error"]["field"] == field

    def test_unknown_dataset_and_storage(self, api, dataset, rw_storage) -> None:
        r = api.post(REGISTER, json={"items": [], "dataset_slug": "nope", "storage_slug": "media"})
        assert (r.status_code, r.json()["error"]["field"]) == (404, "dataset_slug")
        r = api.post(
            REGISTER, json={"items": [], "dataset_slug": "darwin-py", "storage_slug": "nope"}
        )
        assert (r.status_code, r.json()["error"]["field"]) == (404, "storage_slug")

    def test_over_the_item_limit(self, api, ctx, dataset, rw_storage) -> None:
        ctx.settings.max_items_per_request = 3
        r = api.post(
            REGISTER,
            json={
                "items": [{"name": str(i), "storage_key": "a.jpg"} for i in range(4)],
                "dataset_slug": "darwin-py",
                "storage_slug": "media",
            },
        )
        assert r.status_code == 413
        assert r.json()["error"]["field"] == "items"

    def test_default_limit_is_at_least_ten_thousand(self, ctx) -> None:
        assert ctx.settings.max_items_per_request >= 10_000

    def test_other_teams_dataset_is_404(self, api, client, ctx, dataset, rw_storage) -> None:
        from tests.conftest import make_team

        other = make_team(ctx, "other")
        r = client.post(
            "/api/v2/teams/other/items/register_existing",
            json={"items": [], "dataset_slug": "darwin-py", "storage_slug": "media"},
            headers=other.headers,
        )
        assert r.status_code == 404
