"""Uploads to an S3 storage: a presigned PUT straight to the bucket (moto server)."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
import requests

from moorage.models import Upload
from tests.conftest import LiveServer, make_team
from tests.helpers import jpeg_bytes
from tests.storage.conftest import S3_BUCKET, moto_endpoint  # noqa: F401  (a fixture)
from tests.worker.test_faults import wait_for

UPLOADS = "/api/v2/teams/acme/items/uploads"


@pytest.fixture
def s3_team(working_server: LiveServer, moto_endpoint: str):  # noqa: F811
    team = make_team(working_server.ctx, "acme")
    url = working_server.url
    r = requests.post(
        f"{url}/api/datasets", json={"name": "cloud"}, headers=team.headers, timeout=10
    )
    assert r.status_code == 200, r.text
    r = requests.post(
        f"{url}/api/teams/acme/storage",
        headers=team.headers,
        timeout=10,
        json={
            "name": "bucket",
            "slug": "bucket",
            "provider": "aws",
            "bucket": S3_BUCKET,
            "region": "us-east-1",
            "endpoint_url": moto_endpoint,
            "prefix": f"t-{uuid.uuid4().hex[:8]}",
            "default": True,
            "credentials": {"access_key_id": "AKIAMOORAGETEST", "secret_access_key": "s3-x9f2k"},
        },
    )
    assert r.status_code == 200, r.text
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    return team, working_server, s3, r.json()["prefix"]


def _register(server: LiveServer, team, name: str) -> dict:
    r = requests.post(
        f"{server.url}/api/v2/teams/acme/items/register_upload",
        headers=team.headers,
        timeout=10,
        json={"dataset_slug": "cloud", "items": [{"name": name, "slots": [{"file_name": name}]}]},
    )
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    return item


class TestPresignedPut:
    def test_the_client_puts_to_the_bucket_and_the_worker_processes(self, s3_team) -> None:
        team, server, s3, prefix = s3_team
        item = _register(server, team, "car.jpg")
        upload_id = item["slots"][0]["upload_id"]
        signed = requests.get(
            f"{server.url}{UPLOADS}/{upload_id}/sign", headers=team.headers, timeout=10
        )
        url = signed.json()["upload_url"]
        assert not url.startswith(server.url) and "X-Amz-Signature" in url
        data = jpeg_bytes(200, 100)
        assert requests.put(url, data=data, timeout=10).status_code == 200
        ok = requests.post(
            f"{server.url}{UPLOADS}/{upload_id}/confirm", json={}, headers=team.headers, timeout=10
        )
        assert ok.status_code == 200, ok.text
        with server.ctx.db.session() as session:
            key = session.get(Upload, uuid.UUID(upload_id)).storage_key
        assert key == f"{prefix}/uploads/{upload_id}/car.jpg"
        assert s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read() == data

        def done() -> dict | None:
            got = requests.get(
                f"{server.url}/api/v2/teams/acme/items/{item['id']}",
                headers=team.headers,
                timeout=10,
            ).json()
            return got if got["processing_status"] == "complete" else None

        got = wait_for(done)
        assert got and got["slots"][0]["metadata"]["width"] == 200

    def test_a_confirm_without_a_put_is_refused(self, s3_team) -> None:
        team, server, _s3, _prefix = s3_team
        upload_id = _register(server, team, "a.jpg")["slots"][0]["upload_id"]
        r = requests.post(
            f"{server.url}{UPLOADS}/{upload_id}/confirm", json={}, headers=team.headers, timeout=10
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "UPLOAD_NOT_RECEIVED"

    def test_a_file_over_the_limit_is_refused_at_confirm_and_deleted(self, s3_team) -> None:
        team, server, s3, _prefix = s3_team
        server.ctx.settings.max_upload_bytes = 100
        upload_id = _register(server, team, "a.jpg")["slots"][0]["upload_id"]
        url = requests.get(
            f"{server.url}{UPLOADS}/{upload_id}/sign", headers=team.headers, timeout=10
        ).json()["upload_url"]
        assert requests.put(url, data=b"x" * 101, timeout=10).status_code == 200
        r = requests.post(
            f"{server.url}{UPLOADS}/{upload_id}/confirm", json={}, headers=team.headers, timeout=10
        )
        assert r.status_code == 413, r.text
        with server.ctx.db.session() as session:
            key = session.get(Upload, uuid.UUID(upload_id)).storage_key
        assert s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=key)["KeyCount"] == 0

    def test_darwin_py_pushes_to_the_bucket(self, s3_team, monkeypatch, tmp_path: Path) -> None:
        team, server, s3, prefix = s3_team
        monkeypatch.setenv("DARWIN_BASE_URL", server.url)
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("DARWIN_RETRY_MAX_ATTEMPTS", "1")
        from darwin.client import Client

        dataset = Client.from_api_key(team.api_key).get_remote_dataset("cloud")
        files = []
        for n in range(3):
            path = tmp_path / f"img{n}.jpg"
            path.write_bytes(jpeg_bytes(50 + n, 40))
            files.append(path)
        handler = dataset.push(files)
        assert handler.error_count == 0 and handler.blocked_count == 0, handler.errors
        listed = s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{prefix}/uploads/")
        assert sorted(o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]) == [
            "img0.jpg",
            "img1.jpg",
            "img2.jpg",
        ]
