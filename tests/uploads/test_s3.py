"""Uploads to an S3 storage: a presigned PUT straight to the bucket (moto server)."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
import requests

from moorage.models import Upload
from tests.conftest import LiveServer
from tests.helpers import jpeg_bytes
from tests.storage.conftest import S3_BUCKET, moto_endpoint  # noqa: F401  (a fixture)
from tests.uploads.conftest import UPLOADS, cloud_team, darwin_py_push, register_one
from tests.worker.test_faults import wait_for


@pytest.fixture
def s3_team(working_server: LiveServer, moto_endpoint: str):  # noqa: F811
    storage = {
        "provider": "aws",
        "bucket": S3_BUCKET,
        "region": "us-east-1",
        "endpoint_url": moto_endpoint,
        "credentials": {"access_key_id": "AKIAMOORAGETEST", "secret_access_key": "s3-x9f2k"},
    }
    team, prefix = cloud_team(working_server, storage)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    return team, working_server, s3, prefix


class TestPresignedPut:
    def test_the_client_puts_to_the_bucket_and_the_worker_processes(self, s3_team) -> None:
        team, server, s3, prefix = s3_team
        item = register_one(server, team, "car.jpg")
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
        upload_id = register_one(server, team, "a.jpg")["slots"][0]["upload_id"]
        r = requests.post(
            f"{server.url}{UPLOADS}/{upload_id}/confirm", json={}, headers=team.headers, timeout=10
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "UPLOAD_NOT_RECEIVED"

    def test_a_file_over_the_limit_is_refused_at_confirm_and_deleted(self, s3_team) -> None:
        team, server, s3, _prefix = s3_team
        server.ctx.settings.max_upload_bytes = 100
        upload_id = register_one(server, team, "a.jpg")["slots"][0]["upload_id"]
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
        files = darwin_py_push(server, team, tmp_path, monkeypatch)
        listed = s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{prefix}/uploads/")
        stored = {o["Key"].rsplit("/", 1)[1]: o["Key"] for o in listed["Contents"]}
        assert sorted(stored) == sorted(files)
        for name, data in files.items():
            assert s3.get_object(Bucket=S3_BUCKET, Key=stored[name])["Body"].read() == data
