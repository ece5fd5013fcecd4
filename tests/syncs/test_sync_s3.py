"""A sync of a real S3-protocol bucket (moto's server on loopback): first sync and re-sync."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import boto3
import pytest

from tests.helpers import jpeg_bytes
from tests.storage.conftest import S3_BUCKET, moto_endpoint  # noqa: F401  (a fixture)
from tests.syncs.conftest import SYNCS, wait_for


@pytest.fixture
def s3(moto_endpoint: str):  # noqa: F811
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def s3_sync(api, dataset, moto_endpoint, runtime) -> Callable[..., dict]:  # noqa: F811
    r = api.post(
        "/api/teams/acme/storage",
        json={
            "name": "bucket",
            "slug": "bucket",
            "provider": "aws",
            "bucket": S3_BUCKET,
            "region": "us-east-1",
            "endpoint_url": moto_endpoint,
            "credentials": {"access_key_id": "AKIAMOORAGETEST", "secret_access_key": "s3-x9f2k"},
        },
    )
    assert r.status_code == 200, r.text

    def run(**body) -> dict:
        r = api.post(SYNCS.format(dataset=dataset["slug"]), json={"storage_slug": "bucket", **body})
        assert r.status_code == 202, r.text
        return wait_for(api, r.json()["id"])

    return run


class TestS3:
    def test_first_sync_and_resync_with_new_changed_deleted(self, api, dataset, s3, s3_sync):
        prefix = f"sync-{uuid.uuid4().hex[:8]}/"
        keys = [f"{prefix}a.jpg", f"{prefix}sub dir/é b.jpg", f"{prefix}c.jpg", f"{prefix}d.jpg"]
        for key in keys:
            s3.put_object(Bucket=S3_BUCKET, Key=key, Body=jpeg_bytes())
        first = s3_sync(prefix=prefix)
        assert first["state"] == "complete", first
        assert first["counts"]["registered"] == 4 and first["counts"]["blocked"] == 0, first
        r = api.get("/api/v2/teams/acme/items", params={"dataset_ids": str(dataset["id"])})
        paths = sorted((i["path"], i["name"]) for i in r.json()["items"])
        assert ("/sub dir", "é b.jpg") in paths
        s3.put_object(Bucket=S3_BUCKET, Key=keys[0], Body=jpeg_bytes(70, 50))  # new etag
        s3.delete_object(Bucket=S3_BUCKET, Key=keys[2])
        s3.put_object(Bucket=S3_BUCKET, Key=f"{prefix}e.jpg", Body=jpeg_bytes())
        second = s3_sync(prefix=prefix)
        c = second["counts"]
        assert (c["listed"], c["registered"], c["changed"], c["missing"], c["unchanged"]) == (
            4, 1, 1, 1, 2,
        ), c  # fmt: skip
        third = s3_sync(prefix=prefix)
        assert third["counts"]["unchanged"] == 4 and third["counts"]["changed"] == 0, third
