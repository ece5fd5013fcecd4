from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from moorage.context import AppContext
from tests.conftest import make_team

URL = "/api/teams/acme/storage"


@pytest.fixture(autouse=True)
def _folders(team_folder: Path) -> None:
    """The folders these tests name as buckets exist in acme's area, as a user makes them."""
    for name in ("a", "b", "s3", "mine", "media", "abs"):
        (team_folder / name).mkdir()


class TestStorageApi:
    def test_create_list_in_darwin_shape(self, api: TestClient) -> None:
        r = api.post(
            URL,
            json={
                "name": "My Bucket",
                "provider": "local",
                "bucket": "media",
                "prefix": "/derived/",
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["slug"] == "my-bucket"
        (entry,) = api.get(URL).json()
        for key in (
            "name",
            "slug",
            "prefix",
            "readonly",
            "provider",
            "default",
            "bucket",
            "region",
        ):
            assert key in entry
        assert entry["default"] is True  # the first storage is the default
        assert entry["prefix"] == "derived"

    def test_default_moves(self, api: TestClient) -> None:
        api.post(URL, json={"name": "a", "provider": "local", "bucket": "a"})
        api.post(URL, json={"name": "b", "provider": "local", "bucket": "b", "default": True})
        defaults = {s["slug"]: s["default"] for s in api.get(URL).json()}
        assert defaults == {"a": False, "b": True}
        api.patch(f"{URL}/a", json={"default": True})
        defaults = {s["slug"]: s["default"] for s in api.get(URL).json()}
        assert defaults == {"a": True, "b": False}

    @pytest.mark.parametrize("bucket", ["/etc", "../..", "media/../../..", "/"])
    def test_local_bucket_outside_the_roots_is_refused(self, api: TestClient, bucket: str) -> None:
        r = api.post(URL, json={"name": "evil", "provider": "local", "bucket": bucket})
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "bucket"

    def test_absolute_bucket_inside_the_team_folder_is_accepted(
        self, api: TestClient, team_folder: Path
    ) -> None:
        r = api.post(
            URL, json={"name": "abs", "provider": "local", "bucket": str(team_folder / "abs")}
        )
        assert r.status_code == 200, r.text

    def test_duplicate_slug_and_unknown_provider(self, api: TestClient) -> None:
        api.post(URL, json={"name": "a", "provider": "local", "bucket": "a"})
        r = api.post(URL, json={"name": "A", "provider": "local", "bucket": "a"})
        assert r.status_code == 422 and r.json()["errors"] == {"slug": ["has already been taken"]}
        r = api.post(URL, json={"name": "x", "provider": "dropbox", "bucket": "a"})
        assert (r.status_code, r.json()["error"]["field"]) == (422, "provider")

    def test_missing_fields_name_the_field(self, api: TestClient) -> None:
        r = api.post(URL, json={"name": "x", "provider": "local"})
        assert (r.status_code, r.json()["error"]["field"]) == (422, "bucket")

    def test_secrets_are_encrypted_and_never_returned(
        self, api: TestClient, ctx: AppContext
    ) -> None:
        secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
        r = api.post(
            URL,
            json={
                "name": "s3",
                "provider": "local",
                "bucket": "s3",
                "credentials": {"secret_access_key": secret},
            },
        )
        assert secret not in r.text and r.json()["has_credentials"] is True
        assert secret not in api.get(URL).text
        with ctx.db.engine.connect() as conn:
            (blob,) = conn.exec_driver_sql("SELECT credentials_encrypted FROM storages").one()
        assert secret.encode() not in bytes(blob)
        assert ctx.secrets.decrypt(bytes(blob)) == {"secret_access_key": secret}

    def test_delete_refused_while_items_use_it(
        self, api: TestClient, dataset, bucket, put_file
    ) -> None:
        api.post(URL, json={"name": "media", "provider": "local", "bucket": "media"})
        put_file("a.jpg")
        api.post(
            "/api/v2/teams/acme/items/register_existing",
            json={
                "items": [{"name": "a.jpg", "storage_key": "a.jpg"}],
                "dataset_slug": "darwin-py",
                "storage_slug": "media",
            },
        )
        assert api.delete(f"{URL}/media").status_code == 409
        ids = [i["id"] for i in api.get("/api/v2/teams/acme/items").json()["items"]]
        api.request("DELETE", "/api/v2/teams/acme/items", json={"filters": {"item_ids": ids}})
        assert api.delete(f"{URL}/media").status_code == 200
        assert api.get(URL).json() == []

    def test_other_teams_storage_is_404(
        self, api: TestClient, client: TestClient, ctx: AppContext
    ) -> None:
        api.post(URL, json={"name": "mine", "provider": "local", "bucket": "mine"})
        other = make_team(ctx, "other")
        assert client.get("/api/teams/other/storage", headers=other.headers).json() == []
        assert client.get(f"{URL}/mine", headers=other.headers).status_code == 404
        assert (
            client.patch(
                "/api/teams/other/storage/mine", json={"readonly": True}, headers=other.headers
            ).status_code
            == 404
        )


class TestCheck:
    def test_read_write_local_storage_passes_every_check(
        self, api: TestClient, team_folder: Path
    ) -> None:
        api.post(
            URL, json={"name": "media", "provider": "local", "bucket": "media", "prefix": "derived"}
        )
        body = api.post(f"{URL}/media/check").json()
        assert body["ok"] is True
        assert sorted(c["permission"] for c in body["checks"]) == [
            "delete",
            "list",
            "read",
            "write",
        ]
        assert not any((team_folder / "media").rglob(".moorage-check-*"))

    def test_missing_folder_fails_with_reasons(self, api: TestClient, team_folder: Path) -> None:
        api.post(
            URL, json={"name": "media", "provider": "local", "bucket": "media", "readonly": True}
        )
        (team_folder / "media").rmdir()
        body = api.post(f"{URL}/media/check").json()
        assert body["ok"] is False
        assert all(not c["ok"] and c["reason"] and c["message"] for c in body["checks"])
        for check in body["checks"]:  # what happened, with a hint that fits a folder
            assert check["reason"] == "STORAGE_BUCKET_NOT_FOUND"
            assert f"{team_folder / 'media'} does not exist" in check["message"]
            assert "create the folder" in check["message"]
            assert "region" not in check["message"] and "Azure" not in check["message"]

    def test_a_folder_that_does_not_exist_is_refused_at_creation(
        self, api: TestClient, team_folder: Path
    ) -> None:
        r = api.post(URL, json={"name": "typo", "provider": "local", "bucket": "no-such"})
        assert (r.status_code, r.json()["error"]["field"]) == (422, "bucket")
        assert f"{team_folder / 'no-such'} does not exist" in r.json()["error"]["message"]
        assert not (team_folder / "no-such").exists()  # never created silently


def test_azure_storage_needs_its_container_in_prefix(api: TestClient) -> None:
    r = api.post(URL, json={"name": "az", "provider": "azure", "bucket": "account"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "prefix")
