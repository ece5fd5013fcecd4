"""Uploads to an Azure storage go through moorage's capability PUT (Azurite), because a SAS PUT
URL would fail with darwin-py: its raw PUT has no ``x-ms-blob-type`` header (decisions/0039)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from azure.storage.blob import BlobSasPermissions, generate_blob_sas
from darwin.dataset.upload_manager import FileMonitor

from moorage.storage.base import StorageAdapter
from moorage.storage.factory import StorageSpec, build_adapter
from tests.conftest import LiveServer
from tests.helpers import jpeg_bytes
from tests.storage.conftest import (  # noqa: F401  (a fixture)
    AZ_CONTAINER,
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    FAST,
    LOOPBACK,
    azurite_endpoint,
)
from tests.uploads.conftest import cloud_team, confirm_of, darwin_py_push, register_one, sign_of


def _sas_put_url(endpoint: str, blob: str) -> str:
    """A real SAS URL that allows creating and writing ``blob``, as moorage would sign it."""
    token = generate_blob_sas(
        AZURITE_ACCOUNT,
        AZ_CONTAINER,
        blob,
        account_key=AZURITE_KEY,
        permission=BlobSasPermissions(create=True, write=True),
        expiry=datetime.now(UTC) + timedelta(minutes=5),
    )
    return f"{endpoint}/{AZ_CONTAINER}/{quote(blob, safe='/')}?{token}"


def _account(endpoint: str) -> StorageAdapter:
    spec = StorageSpec(
        provider="azure",
        bucket=AZURITE_ACCOUNT,
        endpoint_url=endpoint,
        credentials={"account_key": AZURITE_KEY},
        options=dict(FAST),
        egress=LOOPBACK,
    )
    return build_adapter(spec)


class TestWhyAzureIsProxied:
    def test_azurite_refuses_darwin_pys_put_to_a_sas_url(
        self,
        azurite_endpoint: str,  # noqa: F811
        tmp_path: Path,
    ) -> None:
        blob = f"sas-probe/{tmp_path.name}/a.jpg"
        url = _sas_put_url(azurite_endpoint, blob)
        path = tmp_path / "a.jpg"
        path.write_bytes(jpeg_bytes(20, 20))
        with path.open("rb") as f:  # darwin-py's own PUT: upload_manager.py, no headers
            monitor = FileMonitor(f, path.stat().st_size, lambda _m: None)
            refused = requests.put(url, data=monitor, timeout=10)
        assert refused.status_code == 400  # Azurite names no error code; Azure's is
        # MissingRequiredHeader (x-ms-blob-type)
        store = _account(azurite_endpoint)
        assert not store.exists(f"{AZ_CONTAINER}/{blob}")
        # the same URL with the header Put Blob requires is accepted: the SAS was good
        ok = requests.put(
            url, data=path.read_bytes(), headers={"x-ms-blob-type": "BlockBlob"}, timeout=10
        )
        assert ok.status_code == 201
        assert store.read_bytes(f"{AZ_CONTAINER}/{blob}") == path.read_bytes()


class TestThroughMoorage:
    def test_darwin_py_pushes_to_azure(
        self,
        working_server: LiveServer,
        azurite_endpoint: str,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        server = working_server
        storage = {
            "provider": "azure",
            "bucket": AZURITE_ACCOUNT,
            "endpoint_url": azurite_endpoint,
            "options": dict(FAST),
            "credentials": {"account_key": AZURITE_KEY},
        }
        team, prefix = cloud_team(server, storage, root=f"{AZ_CONTAINER}/")
        upload_id = register_one(server, team, "first.jpg")["slots"][0]["upload_id"]
        url = sign_of(server, team, upload_id).json()["upload_url"]
        assert url.startswith(f"{server.url}/api/v2/uploads/")  # moorage's PUT, not a SAS
        assert requests.put(url, data=jpeg_bytes(20, 20), timeout=10).status_code == 200
        assert confirm_of(server, team, upload_id).status_code == 200

        files = darwin_py_push(server, team, tmp_path, monkeypatch)
        store = _account(azurite_endpoint)
        stored = {
            o.key.rsplit("/", 1)[1]: o.key for o in store.list_page(f"{prefix}/uploads/").objects
        }
        assert sorted(stored) == sorted([*files, "first.jpg"])
        for name, data in files.items():
            assert store.read_bytes(stored[name]) == data
