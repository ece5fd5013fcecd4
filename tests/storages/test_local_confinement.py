"""Attacks on local storage confinement: one team's local storage never reaches another team's
files, the shared root, or a folder the operator has taken back. Every case runs on both engines.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from moorage.context import AppContext
from moorage.folders import folder_service
from moorage.models import Item, Job
from moorage.teams.service import team_service
from moorage.worker.tasks import process_job
from tests.conftest import TeamFixture, make_team
from tests.helpers import jpeg_bytes

ACME = "/api/teams/acme/storage"
BETA = "/api/teams/beta/storage"


@pytest.fixture
def secret(bucket: Path) -> bytes:
    """Team acme's file, in its own local bucket ``media`` (``<root>/acme/media``)."""
    data = jpeg_bytes(33, 21)
    (bucket / "secret.jpg").write_bytes(data)
    return data


@pytest.fixture
def beta(ctx: AppContext, storage_root: Path) -> TeamFixture:
    """The attacker: another team, with a legitimate folder ``mine`` of its own."""
    (storage_root / "beta" / "mine").mkdir(parents=True)
    return make_team(ctx, "beta")


def create(client: TestClient, team: TeamFixture, bucket: str, **extra: object) -> object:
    # json.dumps escapes a lone surrogate as \udfff, as a hostile client would send it
    body = json.dumps({"name": "s", "provider": "local", "bucket": bucket, **extra})
    return client.post(
        f"/api/teams/{team.slug}/storage",
        content=body,
        headers={**team.headers, "Content-Type": "application/json"},
    )


def assert_bucket_refused(response: object) -> None:
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"]["field"] == "bucket" and body["errors"]["bucket"][0]


def register(client: TestClient, team: TeamFixture, storage: str, *keys: str) -> object:
    return client.post(
        f"/api/v2/teams/{team.slug}/items/register_existing",
        json={
            "dataset_slug": "cars",
            "storage_slug": storage,
            "items": [{"name": k.rsplit("/", 1)[-1], "storage_key": k} for k in keys],
        },
        headers=team.headers,
    )


def file_of(client: TestClient, team: TeamFixture, item_id: str) -> object:
    return client.get(
        f"/api/v2/teams/{team.slug}/items/{item_id}/slots/0/file", headers=team.headers
    )


def dataset_for(client: TestClient, team: TeamFixture) -> None:
    r = client.post("/api/datasets", json={"name": "cars"}, headers=team.headers)
    assert r.status_code == 200, r.text


OUTSIDE: list[Callable[[Path], str]] = [
    lambda root: "../acme/media",
    lambda root: "../acme",
    lambda root: "..",
    lambda root: "mine/../../acme/media",
    lambda root: str(root / "acme" / "media"),
    lambda root: str(root / "acme"),
    lambda root: str(root),
    lambda root: str(root) + "/",
    lambda root: str(root / "beta" / ".." / "acme" / "media"),
    lambda root: str(root.parent),
    lambda root: "/etc",
    lambda root: "/",
]


class TestBucketOutsideTheTeamsArea:
    @pytest.mark.parametrize("make", OUTSIDE)
    def test_another_teams_folder_or_the_root_is_refused(
        self, client: TestClient, beta: TeamFixture, secret: bytes, storage_root: Path, make
    ) -> None:
        assert_bucket_refused(create(client, beta, make(storage_root)))
        assert client.get(BETA, headers=beta.headers).json() == []

    @pytest.mark.parametrize("name", ["link", "{root}/beta/link", "link/sub"])
    def test_symlink_into_another_teams_folder_is_refused(
        self, client: TestClient, beta: TeamFixture, secret: bytes, storage_root: Path, name
    ) -> None:
        (storage_root / "acme" / "media" / "sub").mkdir()
        (storage_root / "beta" / "link").symlink_to(storage_root / "acme" / "media")
        assert_bucket_refused(create(client, beta, name.format(root=storage_root)))

    def test_symlink_to_the_root_is_refused(
        self, client: TestClient, beta: TeamFixture, secret: bytes, storage_root: Path
    ) -> None:
        (storage_root / "beta" / "up").symlink_to(storage_root)
        for bucket in ("up", "up/acme/media", "up/acme"):
            assert_bucket_refused(create(client, beta, bucket))

    def test_update_cannot_move_a_storage_into_another_teams_folder(
        self, client: TestClient, beta: TeamFixture, secret: bytes, storage_root: Path
    ) -> None:
        assert create(client, beta, "mine").status_code == 200
        for bucket in ("../acme/media", str(storage_root / "acme" / "media")):
            r = client.patch(f"{BETA}/s", json={"bucket": bucket}, headers=beta.headers)
            assert_bucket_refused(r)
        assert client.get(f"{BETA}/s", headers=beta.headers).json()["bucket"] == "mine"

    def test_own_folder_relative_and_absolute_is_accepted(
        self, client: TestClient, beta: TeamFixture, storage_root: Path
    ) -> None:
        assert create(client, beta, "mine").status_code == 200
        r = create(client, beta, str(storage_root / "beta" / "mine"), slug="abs")
        assert r.status_code == 200, r.text

    @pytest.mark.parametrize(
        "name",
        [
            "a" * 256,
            "mine/" + "é" * 128,  # 256 bytes in UTF-8
            "/" + "x" * 300,
            "mine/" + "a/" * 2100,
            ("b" * 200 + "/") * 5,
            "mine\x00",
            "\x00",
            "mine/\udfff",
        ],
    )
    def test_names_no_folder_can_have_are_a_422_not_a_5xx(
        self, client: TestClient, beta: TeamFixture, name: str
    ) -> None:
        assert_bucket_refused(create(client, beta, name))

    def test_long_name_on_update_is_a_422(self, client: TestClient, beta: TeamFixture) -> None:
        assert create(client, beta, "mine").status_code == 200
        r = client.patch(f"{BETA}/s", json={"bucket": "m" * 300}, headers=beta.headers)
        assert_bucket_refused(r)

    def test_missing_folder_is_refused_and_not_created(
        self, client: TestClient, beta: TeamFixture, storage_root: Path
    ) -> None:
        r = create(client, beta, "typo")
        assert_bucket_refused(r)
        assert "does not exist" in r.json()["error"]["message"]
        assert not (storage_root / "beta" / "typo").exists()

    def test_a_file_is_not_a_bucket(
        self, client: TestClient, beta: TeamFixture, storage_root: Path
    ) -> None:
        (storage_root / "beta" / "file.jpg").write_bytes(jpeg_bytes())
        assert_bucket_refused(create(client, beta, "file.jpg"))


class TestFilesOfAnotherTeam:
    def test_keys_cannot_climb_into_another_teams_folder(
        self, client: TestClient, beta: TeamFixture, secret: bytes, sent
    ) -> None:
        dataset_for(client, beta)
        assert create(client, beta, "mine").status_code == 200
        body = register(client, beta, "s", "../../acme/media/secret.jpg", "../acme/x.jpg").json()
        assert body["items"] == [] and len(body["blocked_items"]) == 2

    def test_folder_swapped_for_a_symlink_later_is_refused_everywhere(
        self, client: TestClient, ctx: AppContext, beta: TeamFixture, secret, storage_root, sent
    ) -> None:
        """Created honestly, then the folder becomes a symlink into acme's: nothing reads it."""
        mine = storage_root / "beta" / "mine"
        (mine / "secret.jpg").write_bytes(jpeg_bytes())
        dataset_for(client, beta)
        assert create(client, beta, "mine").status_code == 200
        item = register(client, beta, "s", "secret.jpg").json()["items"][0]
        mine.rename(storage_root / "beta" / "old")
        mine.symlink_to(storage_root / "acme" / "media")

        r = register(client, beta, "s", "other.jpg")
        assert (r.status_code, r.json()["error"]["field"]) == (422, "storage_slug")
        served = file_of(client, beta, item["id"])
        assert served.status_code == 409 and served.content != secret
        assert served.json()["error"]["code"] == "STORAGE_FOLDER_NOT_ALLOWED"
        check = client.post(f"{BETA}/s/check", headers=beta.headers).json()
        assert check["ok"] is False
        assert {c["reason"] for c in check["checks"]} == {"STORAGE_FOLDER_NOT_ALLOWED"}
        assert_job_refused(ctx, sent)


def assert_job_refused(ctx: AppContext, sent: list[uuid.UUID]) -> None:
    """The worker builds its adapter afresh for every job, so it refuses the folder too."""
    assert sent
    for job_id in sent:
        assert process_job(ctx, job_id) == "error"
        with ctx.db.session() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.error["reason"] == "STORAGE_FOLDER_NOT_ALLOWED"
            item = session.scalars(select(Item).where(Item.id == job.item_id)).one()
            assert item.processing_status == "error"


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder outside every root, e.g. an existing /data/photos the operator grants."""
    path = tmp_path / "photos"
    (path / "sub").mkdir(parents=True)
    (path / "photo.jpg").write_bytes(jpeg_bytes(50, 40))
    return path


def grant(ctx: AppContext, team: str, path: Path) -> None:
    with ctx.db.session() as session:
        owner = team_service.get_by_slug(session, team)
        folder_service.grant(session, owner, path=str(path), protected=[ctx.settings.data_dir])


def revoke(ctx: AppContext, team: str, path: Path) -> None:
    with ctx.db.session() as session:
        owner = team_service.get_by_slug(session, team)
        folder_service.revoke(session, owner, path=str(path))


class TestGrantedFolders:
    def test_granted_folder_works_then_stops_at_once_on_revoke(
        self, api: TestClient, ctx: AppContext, team: TeamFixture, photos: Path, sent
    ) -> None:
        grant(ctx, "acme", photos)
        dataset_for(api, team)
        assert create(api, team, str(photos)).status_code == 200
        assert create(api, team, str(photos / "sub"), slug="sub").status_code == 200
        item = register(api, team, "s", "photo.jpg").json()["items"][0]
        served = file_of(api, team, item["id"])
        assert served.status_code == 200
        assert served.content == (photos / "photo.jpg").read_bytes()

        revoke(ctx, "acme", photos)
        r = register(api, team, "s", "photo.jpg")
        assert (r.status_code, r.json()["error"]["field"]) == (422, "storage_slug")
        served = file_of(api, team, item["id"])
        assert served.status_code == 409
        assert served.json()["error"]["code"] == "STORAGE_FOLDER_NOT_ALLOWED"
        assert api.post(f"{ACME}/s/check").json()["ok"] is False
        assert_job_refused(ctx, sent)
        assert_bucket_refused(api.patch(f"{ACME}/s", json={"name": "renamed"}))

    def test_a_grant_is_for_one_team_only(
        self, client: TestClient, ctx: AppContext, team: TeamFixture, beta, photos: Path
    ) -> None:
        grant(ctx, "acme", photos)
        for bucket in (str(photos), str(photos / "sub")):
            assert_bucket_refused(create(client, beta, bucket))

    def test_symlink_out_of_a_granted_folder_is_refused(
        self, api: TestClient, ctx: AppContext, team: TeamFixture, photos: Path, storage_root
    ) -> None:
        (storage_root / "beta").mkdir()
        (photos / "out").symlink_to(storage_root / "beta")
        grant(ctx, "acme", photos)
        assert_bucket_refused(create(api, team, str(photos / "out")))

    def test_grant_is_stored_resolved(
        self, ctx: AppContext, team: TeamFixture, photos: Path, tmp_path: Path
    ) -> None:
        link = tmp_path / "link-to-photos"
        link.symlink_to(photos)
        grant(ctx, "acme", link)
        with ctx.db.session() as session:
            owner = team_service.get_by_slug(session, "acme")
            paths = [f.path for f in folder_service.list_for(session, owner)]
        assert paths == [os.path.realpath(photos)]
        revoke(ctx, "acme", link)  # revoking by the same (unresolved) path works
        with ctx.db.session() as session:
            owner = team_service.get_by_slug(session, "acme")
            assert folder_service.list_for(session, owner) == []

    def test_no_endpoint_grants_folders(self, client: TestClient) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        assert not [p for p in paths if "grant" in p or p.endswith("/team_folders")]
