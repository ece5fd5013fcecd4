"""Uploads to a GCS storage: a V4 signed PUT straight to the bucket (fake-gcs-server).

fake-gcs-server stores what a signed URL PUTs but checks no signature (a tampered or expired
URL is stored too): these tests prove the URL's shape and the exchange, not Google's checks."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from moorage.models import Upload
from moorage.models.base import utcnow
from moorage.storage.base import StorageAdapter
from moorage.storage.factory import StorageSpec, build_adapter
from tests.conftest import LiveServer, make_team
from tests.helpers import jpeg_bytes
from tests.storage.conftest import (  # noqa: F401  (fixtures)
    FAST,
    GCS_BUCKET,
    LOOPBACK,
    gcs_endpoint,
    service_account_json,
)
from tests.uploads.conftest import (
    UPLOADS,
    cloud_team,
    confirm_of,
    darwin_py_push,
    register_one,
    sign_of,
)
from tests.worker.test_faults import wait_for


def _gcs(endpoint: str, sa_json: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider": "gcp",
        "bucket": GCS_BUCKET,
        "endpoint_url": endpoint,
        "options": {**FAST, "emulator": True},
    }
    if sa_json is not None:
        body["credentials"] = {"service_account_json": sa_json}
    return body


def _bucket(endpoint: str) -> StorageAdapter:
    """The bucket as the tests read it, past moorage."""
    spec = StorageSpec(
        provider="gcp",
        bucket=GCS_BUCKET,
        endpoint_url=endpoint,
        options={**FAST, "emulator": True},
        egress=LOOPBACK,
    )
    return build_adapter(spec)


@pytest.fixture
def gcs_team(working_server: LiveServer, gcs_endpoint: str, service_account_json: str):  # noqa: F811
    team, prefix = cloud_team(working_server, _gcs(gcs_endpoint, service_account_json))
    return team, working_server, _bucket(gcs_endpoint), prefix


def _key(server: LiveServer, upload_id: str) -> str:
    with server.ctx.db.session() as session:
        upload = session.get(Upload, uuid.UUID(upload_id))
        assert upload is not None
        return upload.storage_key


class TestSignedPut:
    def test_the_client_puts_to_the_bucket_and_the_worker_processes(
        self,
        gcs_team,
        gcs_endpoint: str,  # noqa: F811
        service_account_json: str,  # noqa: F811
    ) -> None:
        team, server, bucket, prefix = gcs_team
        item = register_one(server, team, "car.jpg")
        upload_id = item["slots"][0]["upload_id"]
        url = sign_of(server, team, upload_id).json()["upload_url"]
        key = f"{prefix}/uploads/{upload_id}/car.jpg"
        assert url.startswith(f"{gcs_endpoint}/{GCS_BUCKET}/{key.replace('.jpg', '')}")
        assert "X-Goog-Signature=" in url and "X-Goog-SignedHeaders=host" in url
        private_key = json.loads(service_account_json)["private_key"]
        assert private_key.splitlines()[1] not in url
        data = jpeg_bytes(200, 100)
        assert requests.put(url, data=data, timeout=10).status_code == 200
        assert confirm_of(server, team, upload_id).status_code == 200
        assert _key(server, upload_id) == key
        assert bucket.read_bytes(key) == data

        def done() -> dict[str, Any] | None:
            got = requests.get(
                f"{server.url}/api/v2/teams/acme/items/{item['id']}",
                headers=team.headers,
                timeout=10,
            ).json()
            return got if got["processing_status"] == "complete" else None

        got = wait_for(done)
        assert got and got["slots"][0]["metadata"]["width"] == 200

    def test_darwin_py_pushes_to_the_bucket(
        self, gcs_team, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        team, server, bucket, prefix = gcs_team
        files = darwin_py_push(server, team, tmp_path, monkeypatch)
        stored = bucket.list_page(f"{prefix}/uploads/").objects
        assert sorted(o.key.rsplit("/", 1)[1] for o in stored) == sorted(files)
        for obj in stored:
            assert bucket.read_bytes(obj.key) == files[obj.key.rsplit("/", 1)[1]]

    def test_without_a_signing_key_the_bytes_go_through_moorage(
        self,
        working_server: LiveServer,
        gcs_endpoint: str,  # noqa: F811
    ) -> None:
        server = working_server
        team, _prefix = cloud_team(server, _gcs(gcs_endpoint, None))
        upload_id = register_one(server, team, "a.jpg")["slots"][0]["upload_id"]
        url = sign_of(server, team, upload_id).json()["upload_url"]
        assert url.startswith(f"{server.url}/api/v2/uploads/")
        data = jpeg_bytes(30, 20)
        assert requests.put(url, data=data, timeout=10).status_code == 200
        assert confirm_of(server, team, upload_id).status_code == 200
        assert _bucket(gcs_endpoint).read_bytes(_key(server, upload_id)) == data


class TestRefusals:
    def test_a_confirm_without_a_put_is_refused(self, gcs_team) -> None:
        team, server, _bucket, _prefix = gcs_team
        upload_id = register_one(server, team, "a.jpg")["slots"][0]["upload_id"]
        r = confirm_of(server, team, upload_id)
        assert r.status_code == 409 and r.json()["error"]["code"] == "UPLOAD_NOT_RECEIVED"

    def test_a_file_over_the_limit_is_refused_at_confirm_and_deleted(self, gcs_team) -> None:
        team, server, bucket, _prefix = gcs_team
        server.ctx.settings.max_upload_bytes = 100
        upload_id = register_one(server, team, "a.jpg")["slots"][0]["upload_id"]
        url = sign_of(server, team, upload_id).json()["upload_url"]
        assert requests.put(url, data=b"x" * 101, timeout=10).status_code == 200
        r = confirm_of(server, team, upload_id)
        assert r.status_code == 413 and r.json()["error"]["code"] == "UPLOAD_TOO_LARGE", r.text
        assert r.json()["error"]["field"] == "upload_id"
        assert not bucket.exists(_key(server, upload_id))

    def test_an_expired_upload_is_410_on_sign_and_confirm(self, gcs_team) -> None:
        team, server, bucket, _prefix = gcs_team
        upload_id = register_one(server, team, "a.jpg")["slots"][0]["upload_id"]
        url = sign_of(server, team, upload_id).json()["upload_url"]
        assert requests.put(url, data=jpeg_bytes(20, 20), timeout=10).status_code == 200
        with server.ctx.db.session() as session:
            upload = session.get(Upload, uuid.UUID(upload_id))
            assert upload is not None
            upload.expires_at = utcnow() - timedelta(seconds=1)
        assert sign_of(server, team, upload_id).status_code == 410
        r = confirm_of(server, team, upload_id)
        assert r.status_code == 410 and r.json()["error"]["code"] == "UPLOAD_EXPIRED"
        assert bucket.exists(_key(server, upload_id))  # the reconciler's to delete


class TestIsolation:
    def test_another_teams_upload_is_404(self, gcs_team) -> None:
        team, server, _bucket, _prefix = gcs_team
        upload_id = register_one(server, team, "a.jpg")["slots"][0]["upload_id"]
        rival = make_team(server.ctx, "rival")
        h = rival.headers
        base = f"{server.url}{UPLOADS}/{upload_id}"
        assert requests.get(f"{base}/sign", headers=h, timeout=10).status_code == 404
        assert requests.post(f"{base}/confirm", json={}, headers=h, timeout=10).status_code == 404
        theirs = f"{server.url}/api/v2/teams/rival/items/uploads/{upload_id}"
        assert requests.get(f"{theirs}/sign", headers=h, timeout=10).status_code == 404
        r = requests.post(f"{theirs}/confirm", json={}, headers=h, timeout=10)
        assert r.status_code == 404
        assert sign_of(server, team, upload_id).status_code == 200  # still acme's
