"""register_upload, sign, the capability PUT and confirm, through the app (TestClient)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from moorage.context import AppContext
from moorage.models import Item, Job, Upload
from moorage.models.base import utcnow
from moorage.uploads.service import upload_service
from moorage.uploads.tasks import clean_expired_uploads
from moorage.worker.repository import job_repository
from moorage.worker.tasks import claim, process_job
from tests.conftest import make_team
from tests.helpers import jpeg_bytes, make_storage

REGISTER = "/api/v2/teams/acme/items/register_upload"
UPLOADS = "/api/v2/teams/acme/items/uploads"


def register(api: TestClient, *names: str, **slot: object) -> list[dict]:
    body = {
        "dataset_slug": "darwin-py",
        "items": [
            {"name": n, "path": "/", "slots": [{"slot_name": "0", "file_name": n, **slot}]}
            for n in names
        ],
        "options": {"handle_as_slices": False},
    }
    r = api.post(REGISTER, json=body)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def sign(api: TestClient, upload_id: str) -> str:
    r = api.get(f"{UPLOADS}/{upload_id}/sign")
    assert r.status_code == 200, r.text
    return r.json()["upload_url"]


def put(client: TestClient, url: str, data: bytes, **headers: str):
    """A raw PUT with no API key, as darwin-py sends it."""
    return client.put(url, content=data, headers={"Authorization": "", **headers})


def status_of(api: TestClient, item_id: str) -> str:
    return api.get(f"/api/v2/teams/acme/items/{item_id}").json()["processing_status"]


@pytest.fixture
def storage(api: TestClient, bucket: Path, dataset: dict) -> dict:
    return make_storage(api)


class TestTheWalk:
    def test_an_upload_walks_to_complete(
        self, api: TestClient, ctx: AppContext, storage: dict, bucket: Path
    ) -> None:
        (item,) = register(api, "car.jpg", tags=["red"])
        assert item["processing_status"] == "uploading"
        upload_id = item["slots"][0]["upload_id"]
        assert status_of(api, item["id"]) == "uploading"
        url = sign(api, upload_id)
        assert "/api/v2/uploads/" in url
        data = jpeg_bytes(300, 200)
        r = put(api, url, data, **{"Content-Type": "image/jpeg"})
        assert r.status_code == 200, r.text
        with ctx.db.session() as session:
            key = session.get(Upload, uuid.UUID(upload_id)).storage_key
        assert key.startswith(f"uploads/{upload_id}/") and (bucket / key).read_bytes() == data
        assert status_of(api, item["id"]) == "uploading"
        assert api.post(f"{UPLOADS}/{upload_id}/confirm", json={}).json() == {}
        assert status_of(api, item["id"]) == "uploading_confirmed"
        with ctx.db.session() as session:
            (job,) = session.query(Job).all()
            job_id = job.id
        token = claim(ctx, job_id, attempt=None)
        assert token is not None
        assert status_of(api, item["id"]) == "processing"
        with ctx.db.session() as session:
            job_repository.requeue(session, job_id, token=token)
        assert process_job(ctx, job_id) == "done"
        got = api.get(f"/api/v2/teams/acme/items/{item['id']}").json()
        assert got["processing_status"] == "complete" and got["status"] == "new"
        assert got["tags"] == ["red"] and got["slots"][0]["size_bytes"] == len(data)
        assert got["slots"][0]["metadata"]["width"] == 300
        thumb = api.get(f"/api/v2/teams/acme/items/{item['id']}/slots/0/thumbnail")
        assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"

    def test_a_multi_slot_item_waits_for_its_last_file(
        self, api: TestClient, ctx: AppContext, storage: dict
    ) -> None:
        body = {
            "dataset_slug": "darwin-py",
            "items": [
                {
                    "name": "pair",
                    "path": "/",
                    "layout": {"version": 3, "slots_grid": [[["0"], ["1"]]]},
                    "slots": [
                        {"slot_name": "0", "file_name": "a.jpg"},
                        {"slot_name": "1", "file_name": "b.jpg"},
                    ],
                }
            ],
        }
        (item,) = api.post(REGISTER, json=body).json()["items"]
        first, second = (s["upload_id"] for s in item["slots"])
        for upload_id in (first, second):
            assert put(api, sign(api, upload_id), jpeg_bytes()).status_code == 200
        api.post(f"{UPLOADS}/{first}/confirm", json={})
        assert status_of(api, item["id"]) == "uploading"
        with ctx.db.session() as session:
            assert session.query(Job).count() == 0
        api.post(f"{UPLOADS}/{second}/confirm", json={})
        assert status_of(api, item["id"]) == "uploading_confirmed"
        with ctx.db.session() as session:
            assert session.query(Job).count() == 2

    def test_a_second_confirm_is_a_no_op(self, api: TestClient, storage: dict) -> None:
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        put(api, sign(api, upload_id), jpeg_bytes())
        assert api.post(f"{UPLOADS}/{upload_id}/confirm", json={}).status_code == 200
        assert api.post(f"{UPLOADS}/{upload_id}/confirm", json={}).status_code == 200


class TestRefusals:
    def test_a_put_larger_than_announced_is_refused(self, api: TestClient, storage: dict) -> None:
        (item,) = register(api, "a.jpg", size_bytes=10)
        url = sign(api, item["slots"][0]["upload_id"])
        r = put(api, url, b"x" * 11)
        assert r.status_code == 413 and r.json()["error"]["code"] == "UPLOAD_TOO_LARGE"
        assert put(api, url, b"x" * 10).status_code == 200

    def test_a_chunked_put_over_the_limit_is_refused_as_it_arrives(
        self, api: TestClient, storage: dict
    ) -> None:
        (item,) = register(api, "a.jpg", size_bytes=100)
        url = sign(api, item["slots"][0]["upload_id"])
        r = api.put(url, content=iter([b"x" * 60, b"x" * 60]), headers={"Authorization": ""})
        assert r.status_code == 413, r.text

    def test_the_server_limit_applies_when_no_size_is_announced(
        self, api: TestClient, ctx: AppContext, storage: dict
    ) -> None:
        ctx.settings.max_upload_bytes = 50
        (item,) = register(api, "a.jpg")
        r = put(api, sign(api, item["slots"][0]["upload_id"]), b"x" * 51)
        assert r.status_code == 413
        (blocked,) = api.post(
            REGISTER,
            json={
                "dataset_slug": "darwin-py",
                "items": [{"name": "b.jpg", "slots": [{"file_name": "b.jpg", "size_bytes": 51}]}],
            },
        ).json()["blocked_items"]
        assert blocked["slots"][0]["reason"] == "UPLOAD_TOO_LARGE"

    def test_a_confirm_without_a_put_is_refused(self, api: TestClient, storage: dict) -> None:
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        r = api.post(f"{UPLOADS}/{upload_id}/confirm", json={})
        assert r.status_code == 409 and r.json()["error"]["code"] == "UPLOAD_NOT_RECEIVED"
        assert status_of(api, item["id"]) == "uploading"

    def test_a_second_put_never_replaces_the_first(
        self, api: TestClient, ctx: AppContext, storage: dict, bucket: Path
    ) -> None:
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        url = sign(api, upload_id)
        assert put(api, url, b"first").status_code == 200
        r = put(api, url, b"second")
        assert r.status_code == 409 and r.json()["error"]["code"] == "UPLOAD_ALREADY_RECEIVED"
        with ctx.db.session() as session:
            key = session.get(Upload, uuid.UUID(upload_id)).storage_key
        assert (bucket / key).read_bytes() == b"first"
        assert api.get(f"{UPLOADS}/{upload_id}/sign").status_code == 409

    def test_an_existing_key_is_never_overwritten(
        self, api: TestClient, ctx: AppContext, storage: dict, bucket: Path
    ) -> None:
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        with ctx.db.session() as session:
            key = session.get(Upload, uuid.UUID(upload_id)).storage_key
        (bucket / key).parent.mkdir(parents=True)
        (bucket / key).write_bytes(b"already here")
        r = put(api, sign(api, upload_id), b"new")
        assert r.status_code == 409 and r.json()["error"]["code"] == "STORAGE_KEY_EXISTS"
        assert (bucket / key).read_bytes() == b"already here"

    def test_a_forged_or_altered_url_is_refused(self, api: TestClient, storage: dict) -> None:
        (item,) = register(api, "a.jpg")
        url = sign(api, item["slots"][0]["upload_id"])
        assert put(api, url[:-2] + "xx", b"x").status_code == 403
        assert put(api, "/api/v2/uploads/not-a-token", b"x").status_code == 403
        assert put(api, "/api/v2/uploads/" + "a" * 5000, b"x").status_code in (403, 414)

    def test_an_expired_url_is_refused(
        self, api: TestClient, ctx: AppContext, storage: dict
    ) -> None:
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        with ctx.db.session() as session:
            team_id = session.get(Upload, uuid.UUID(upload_id)).team_id
        past = int(time.time()) - 1  # what sign() would have minted a second too long ago
        token = upload_service._signer(ctx).dumps([upload_id, team_id, 100, past])
        r = put(api, f"/api/v2/uploads/{token}", b"x")
        assert r.status_code == 403 and "expired" in r.json()["error"]["message"]

    def test_an_expired_upload_is_refused_then_cleaned(
        self, api: TestClient, ctx: AppContext, storage: dict, bucket: Path
    ) -> None:
        stale, _fresh = register(api, "stale.jpg", "fresh.jpg")
        stale_id = stale["slots"][0]["upload_id"]
        url = sign(api, stale_id)
        assert put(api, url, b"bytes").status_code == 200
        with ctx.db.session() as session:
            upload = session.get(Upload, uuid.UUID(stale_id))
            upload.expires_at = utcnow() - timedelta(seconds=1)
            key = upload.storage_key
        assert api.post(f"{UPLOADS}/{stale_id}/confirm", json={}).status_code == 410
        assert api.get(f"{UPLOADS}/{stale_id}/sign").status_code == 410
        assert clean_expired_uploads(ctx) == 1
        assert not (bucket / key).exists()
        with ctx.db.session() as session:
            assert [i.name for i in session.query(Item).all()] == ["fresh.jpg"]
        assert api.get(f"{UPLOADS}/{stale_id}/sign").status_code == 404


class TestIsolation:
    def test_another_teams_upload_is_404(
        self, api: TestClient, client: TestClient, ctx: AppContext, storage: dict
    ) -> None:
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        other = make_team(ctx, "rival")
        h = other.headers
        assert client.get(f"{UPLOADS}/{upload_id}/sign", headers=h).status_code == 404
        rival = "/api/v2/teams/rival/items/uploads"
        assert client.get(f"{rival}/{upload_id}/sign", headers=h).status_code == 404
        assert client.post(f"{rival}/{upload_id}/confirm", json={}, headers=h).status_code == 404
        r = client.post(
            "/api/v2/teams/rival/items/register_upload",
            json={"dataset_slug": "darwin-py", "items": []},
            headers=h,
        )
        assert r.status_code == 404  # acme's dataset is no dataset of rival's

    def test_a_url_for_one_upload_does_not_open_another(
        self, api: TestClient, ctx: AppContext, storage: dict
    ) -> None:
        a, b = register(api, "a.jpg", "b.jpg")
        url_a = sign(api, a["slots"][0]["upload_id"])
        assert put(api, url_a, b"a").status_code == 200
        with ctx.db.session() as session:
            b_row = session.get(Upload, uuid.UUID(b["slots"][0]["upload_id"]))
            assert b_row.status == "pending"

    def test_no_api_key_is_needed_nor_enough(self, client: TestClient, api, storage) -> None:
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        bare = TestClient(client.app)
        assert bare.get(f"{UPLOADS}/{upload_id}/sign").status_code == 401
        assert bare.post(f"{UPLOADS}/{upload_id}/confirm", json={}).status_code == 401

    def test_a_wrong_or_revoked_key_is_401_before_the_upload_is_read(
        self, client: TestClient, api: TestClient, storage: dict
    ) -> None:
        """sign and confirm check the key in their one unit of work, first."""
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        made = api.post("/api/teams/acme/api_keys", json={"name": "ci"}).json()
        wrong = {"Authorization": f"ApiKey {made['api_key'][:-1]}x"}
        for h in (wrong, {"Authorization": "Basic abc"}):
            assert client.get(f"{UPLOADS}/{upload_id}/sign", headers=h).status_code == 401
            r = client.post(f"{UPLOADS}/{upload_id}/confirm", json={}, headers=h)
            assert r.status_code == 401
        revoked = {"Authorization": f"ApiKey {made['api_key']}"}
        assert client.get(f"{UPLOADS}/{upload_id}/sign", headers=revoked).status_code == 200
        assert api.delete(f"/api/teams/acme/api_keys/{made['prefix']}").status_code == 200
        assert client.get(f"{UPLOADS}/{upload_id}/sign", headers=revoked).status_code == 401
        r = client.post(f"{UPLOADS}/{upload_id}/confirm", json={}, headers=revoked)
        assert r.status_code == 401


class TestHostileInput:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"items": []}, "dataset_slug"),
            ({"dataset_slug": "darwin-py", "items": "x"}, "items"),
            ({"dataset_slug": "darwin-py", "items": [], "options": "x"}, "options"),
            ({"dataset_slug": "nowhere", "items": []}, "dataset_slug"),
        ],
    )
    def test_a_bad_request_names_its_field(
        self, api: TestClient, storage: dict, body: dict, field: str
    ) -> None:
        r = api.post(REGISTER, json=body)
        assert 400 <= r.status_code < 500, r.text
        assert field in r.text

    def test_not_json_is_a_4xx(self, api: TestClient, storage: dict) -> None:
        r = api.post(REGISTER, content=b"{nope", headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500

    @pytest.mark.parametrize(
        ("item", "reason"),
        [
            ("not an object", "INVALID_ITEM"),
            ({"name": "a.jpg", "slots": "x"}, "INVALID_SLOTS"),
            ({"name": "", "slots": [{"file_name": "a.jpg"}]}, "INVALID_NAME"),
            ({"name": "a\x00.jpg", "slots": [{"file_name": "a.jpg"}]}, "INVALID_NAME"),
            ({"name": "a.jpg", "path": "/../x", "slots": [{"file_name": "a.jpg"}]}, "INVALID_PATH"),
            ({"name": "a.xyz", "slots": [{"file_name": "a.xyz"}]}, "UNSUPPORTED_TYPE"),
            ({"name": "noext", "slots": [{"file_name": "noext"}]}, "UNSUPPORTED_TYPE"),
            ({"name": "a.mp4", "slots": [{"file_name": "a.mp4", "fps": "x"}]}, "INVALID_FPS"),
            (
                {"name": "a.jpg", "slots": [{"file_name": "a.jpg", "size_bytes": -1}]},
                "INVALID_FIELD",
            ),
            ({"name": "a.jpg", "slots": [{"file_name": "a.jpg", "tags": 5}]}, "INVALID_TAGS"),
            (
                {"name": "s", "slots": [{"file_name": "a.jpg"}, {"file_name": "b.jpg"}]},
                "INVALID_SLOTS",
            ),
        ],
    )
    def test_a_bad_item_is_blocked_with_a_reason(
        self, api: TestClient, storage: dict, item: object, reason: str
    ) -> None:
        r = api.post(REGISTER, json={"dataset_slug": "darwin-py", "items": [item]})
        assert r.status_code == 200, r.text
        (blocked,) = r.json()["blocked_items"]
        assert blocked["slots"][0]["reason"] == reason or blocked["reason"] == reason

    def test_a_hostile_file_name_stays_inside_the_uploads_folder(
        self, api: TestClient, ctx: AppContext, storage: dict, bucket: Path
    ) -> None:
        long = "x" * 900 + ".jpg"
        for name in ("../../etc/passwd.jpg", "..\\..\\evil.jpg", long):
            (item,) = register(api, Path(name.replace("\\", "/")).name or "f.jpg", file_name=name)
            upload_id = item["slots"][0]["upload_id"]
            assert put(api, sign(api, upload_id), b"x").status_code == 200
            with ctx.db.session() as session:
                key = session.get(Upload, uuid.UUID(upload_id)).storage_key
            assert key.startswith(f"uploads/{upload_id}/") and ".." not in key.split("/")
            assert (bucket / key).resolve().is_relative_to(bucket / "uploads")

    def test_a_client_cannot_choose_the_key(
        self, api: TestClient, ctx: AppContext, storage: dict
    ) -> None:
        (item,) = register(api, "a.jpg", storage_key="../../victim.jpg")
        with ctx.db.session() as session:
            key = session.get(Upload, uuid.UUID(item["slots"][0]["upload_id"])).storage_key
        assert key.startswith("uploads/")

    @pytest.mark.parametrize("bad", ["not-a-uuid", "0" * 300, "%00"])
    def test_a_bad_upload_id_is_a_4xx(self, api: TestClient, storage: dict, bad: str) -> None:
        for r in (api.get(f"{UPLOADS}/{bad}/sign"), api.post(f"{UPLOADS}/{bad}/confirm", json={})):
            assert 400 <= r.status_code < 500, r.text
            assert "upload_id" in r.text

    def test_an_unknown_upload_is_404(self, api: TestClient, storage: dict) -> None:
        assert api.get(f"{UPLOADS}/{uuid.uuid4()}/sign").status_code == 404
        assert api.post(f"{UPLOADS}/{uuid.uuid4()}/confirm", json={}).status_code == 404


class TestUploadStorage:
    def test_no_read_write_storage_is_a_clear_4xx(
        self, api: TestClient, dataset: dict, bucket
    ) -> None:
        r = api.post(REGISTER, json={"dataset_slug": "darwin-py", "items": []})
        assert r.status_code == 422 and "storage" in r.json()["error"]["field"]
        make_storage(api, readonly=True)
        r = api.post(REGISTER, json={"dataset_slug": "darwin-py", "items": []})
        assert r.status_code == 422 and "read-only" in r.json()["error"]["message"]


class TestOperatorNamesTheUploadStorage:
    def _admin(self, ctx: AppContext, monkeypatch: pytest.MonkeyPatch, *args: str):
        from typer.testing import CliRunner

        from moorage.cli import app

        monkeypatch.setenv("MOORAGE_DATABASE_URL", ctx.db.url)
        monkeypatch.setenv("MOORAGE_SECRET_KEY", "test-secret")
        data_dir = ["--data-dir", str(ctx.settings.data_dir)]
        return CliRunner().invoke(
            app, ["admin", "upload-storage", "--team", "acme", *args, *data_dir]
        )

    def test_uploads_go_to_the_named_storage(
        self, api: TestClient, ctx: AppContext, storage: dict, team_folder: Path, monkeypatch
    ) -> None:
        (team_folder / "incoming").mkdir()
        r = api.post(
            "/api/teams/acme/storage",
            json={
                "name": "Incoming",
                "slug": "incoming",
                "provider": "local",
                "bucket": "incoming",
            },
        )
        assert r.status_code == 200, r.text
        result = self._admin(ctx, monkeypatch, "--storage", "incoming")
        assert result.exit_code == 0, result.output
        assert '"upload_storage": "incoming"' in result.output
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        assert put(api, sign(api, upload_id), b"x").status_code == 200
        assert list((team_folder / "incoming" / "uploads" / upload_id).iterdir())
        result = self._admin(ctx, monkeypatch, "--clear")
        assert result.exit_code == 0 and '"upload_storage": "media"' in result.output

    def test_a_read_only_storage_cannot_be_named(
        self, api: TestClient, ctx: AppContext, dataset: dict, bucket: Path, monkeypatch
    ) -> None:
        make_storage(api, slug="ro", readonly=True)
        result = self._admin(ctx, monkeypatch, "--storage", "ro")
        assert result.exit_code == 1 and "read-only" in result.output
        assert self._admin(ctx, monkeypatch).exit_code == 1
