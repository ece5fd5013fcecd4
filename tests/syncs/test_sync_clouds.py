"""Syncs of Azure Blob (Azurite) and GCS (fake-gcs-server) prefixes: first sync and re-sync.

The emulators are the storage tests' (tests/storage/conftest.py), on loopback; the files are
real JPEGs written with each provider's own protocol, not through moorage.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import jpeg_bytes
from tests.storage.conftest import (  # noqa: F401  (fixtures)
    AZ_CONTAINER,
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    FAST,
    GCS_BUCKET,
    azurite_endpoint,
    gcs_endpoint,
    service_account_json,
)
from tests.syncs.conftest import SYNCS, wait_for

ITEMS = "/api/v2/teams/acme/items"


@dataclass
class Cloud:
    """A bucket of one provider: its storage body, its key root, and how to put and delete."""

    body: dict[str, Any]
    root: str  # Azure keys start with the container
    put: Callable[[str, bytes], None]
    delete: Callable[[str], None]


def _azure(endpoint: str) -> Cloud:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient(
        endpoint, credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    )
    container = service.get_container_client(AZ_CONTAINER)

    def put(key: str, data: bytes) -> None:
        container.upload_blob(key.split("/", 1)[1], data, overwrite=True)

    def delete(key: str) -> None:
        container.delete_blob(key.split("/", 1)[1])

    body = {
        "provider": "azure",
        "bucket": AZURITE_ACCOUNT,
        "endpoint_url": endpoint,
        "options": dict(FAST),
        "credentials": {"account_key": AZURITE_KEY},
    }
    return Cloud(body, f"{AZ_CONTAINER}/", put, delete)


def _gcs(endpoint: str, service_account: str) -> Cloud:
    """fake-gcs-server's JSON API, as a GCS client speaks it."""

    def call(method: str, url: str, data: bytes | None = None) -> None:
        headers = {"Content-Type": "image/jpeg"} if data is not None else {}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        urllib.request.urlopen(request, timeout=10).read()

    def put(key: str, data: bytes) -> None:
        query = urllib.parse.urlencode({"uploadType": "media", "name": key})
        call("POST", f"{endpoint}/upload/storage/v1/b/{GCS_BUCKET}/o?{query}", data)

    def delete(key: str) -> None:
        name = urllib.parse.quote(key, safe="")
        call("DELETE", f"{endpoint}/storage/v1/b/{GCS_BUCKET}/o/{name}")

    body = {
        "provider": "gcp",
        "bucket": GCS_BUCKET,
        "endpoint_url": endpoint,
        "options": {**FAST, "emulator": True},
        "credentials": {"service_account_json": service_account},
    }
    return Cloud(body, "", put, delete)


@pytest.fixture(params=["azure", "gcp"])
def cloud(request: pytest.FixtureRequest) -> Cloud:
    if request.param == "azure":
        return _azure(request.getfixturevalue("azurite_endpoint"))
    return _gcs(
        request.getfixturevalue("gcs_endpoint"), request.getfixturevalue("service_account_json")
    )


@pytest.fixture
def cloud_sync(api, dataset, cloud: Cloud, runtime) -> Callable[..., dict]:
    r = api.post(
        "/api/teams/acme/storage",
        json={**cloud.body, "name": "cloud", "slug": "cloud", "prefix": f"{cloud.root}derived"},
    )
    assert r.status_code == 200, r.text

    def run(**body: Any) -> dict:
        r = api.post(SYNCS.format(dataset=dataset["slug"]), json={"storage_slug": "cloud", **body})
        assert r.status_code == 202, r.text
        return wait_for(api, r.json()["id"])

    return run


def _items(api, dataset) -> dict[tuple[str, str], dict]:
    r = api.get(ITEMS, params={"dataset_ids": str(dataset["id"]), "page[size]": "100"})
    assert r.status_code == 200, r.text
    return {(i["path"], i["name"]): i for i in r.json()["items"]}


def test_first_sync_and_incremental_resync(api, dataset, cloud: Cloud, cloud_sync) -> None:
    prefix = f"{cloud.root}sync-{uuid.uuid4().hex[:8]}/"
    rels = ["a.jpg", "b.jpg", "sub dir/é c.jpg", "sub dir/d.jpg"]
    for n, rel in enumerate(rels):
        cloud.put(prefix + rel, jpeg_bytes(40 + n, 30))
    first = cloud_sync(prefix=prefix)
    assert first["state"] == "complete", first
    c = first["counts"]
    assert (c["listed"], c["registered"], c["blocked"]) == (4, 4, 0), first
    listed = _items(api, dataset)
    assert set(listed) == {("/", "a.jpg"), ("/", "b.jpg"), ("/sub dir", "é c.jpg"),
                           ("/sub dir", "d.jpg")}  # fmt: skip
    assert listed[("/sub dir", "é c.jpg")]["slots"][0]["storage_key"] == prefix + rels[2]

    cloud.put(prefix + "a.jpg", jpeg_bytes(90, 70))  # overwritten: a new etag
    cloud.delete(prefix + "sub dir/d.jpg")
    cloud.put(prefix + "e.jpg", jpeg_bytes(20, 20))
    second = cloud_sync(prefix=prefix)
    c = second["counts"]
    assert (c["listed"], c["registered"], c["changed"], c["missing"], c["unchanged"]) == (
        4, 1, 1, 1, 2,
    ), c  # fmt: skip
    missing = _items(api, dataset)
    assert missing[("/sub dir", "d.jpg")]["source_status"] == "missing"
    assert ("/", "e.jpg") in missing and len(missing) == 5, "a missing item stays"

    third = cloud_sync(prefix=prefix)
    c = third["counts"]
    assert (c["unchanged"], c["changed"], c["registered"], c["missing"]) == (4, 0, 0, 0), c
