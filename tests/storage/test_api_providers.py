"""Each cloud provider through the whole API: storage config, check, registration (read-write
with processing, and read-only), serving by 307 to a signed URL, and the failure cases.

Real protocol servers (moto, Azurite, fake-gcs-server) from this folder's conftest.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from moorage.storage.base import StorageAdapter
from moorage.storage.factory import StorageSpec, build_adapter
from moorage.worker.runtime import Runtime
from tests.helpers import REGISTER, jpeg_bytes, make_video
from tests.storage.conftest import (
    AZ_CONTAINER,
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    FAST,
    GCS_BUCKET,
    S3_BUCKET,
)

ODD = "odd dir/ünï +%20#?&;~[1].jpg"


@dataclass
class Cloud:
    name: str
    body: dict[str, Any]  # POST /storage body
    secret: str
    root: str  # the Azure container, or nothing

    def adapter(self) -> StorageAdapter:
        b = self.body
        return build_adapter(
            StorageSpec(
                provider=b["provider"],
                bucket=b["bucket"],
                region=b.get("region"),
                endpoint_url=b.get("endpoint_url"),
                options=b.get("options", {}),
                credentials=b["credentials"],
            )
        )


@pytest.fixture(params=["aws", "azure", "gcp"])
def cloud(request: pytest.FixtureRequest) -> Cloud:
    name = request.param
    if name == "aws":
        creds = {"access_key_id": "AKIAMOORAGEAPI", "secret_access_key": "api-s3-secret-7hq2"}
        body = {
            "provider": "aws",
            "bucket": S3_BUCKET,
            "region": "us-east-1",
            "endpoint_url": request.getfixturevalue("moto_endpoint"),
            "options": dict(FAST),
            "credentials": creds,
        }
        return Cloud(name, body, creds["secret_access_key"], "")
    if name == "azure":
        body = {
            "provider": "azure",
            "bucket": AZURITE_ACCOUNT,
            "endpoint_url": request.getfixturevalue("azurite_endpoint"),
            "options": dict(FAST),
            "credentials": {"account_key": AZURITE_KEY},
        }
        return Cloud(name, body, AZURITE_KEY, f"{AZ_CONTAINER}/")
    sa = request.getfixturevalue("service_account_json")
    body = {
        "provider": "gcp",
        "bucket": GCS_BUCKET,
        "endpoint_url": request.getfixturevalue("gcs_endpoint"),
        "options": {**FAST, "emulator": True},
        "credentials": {"service_account_json": sa},
    }
    return Cloud(name, body, json.loads(sa)["private_key"].splitlines()[1], "")


@pytest.fixture
def runtime(ctx) -> Iterator[Runtime]:
    rt = Runtime(ctx, broker_url=None, threads=2)
    rt.install()
    rt.start_workers(reconcile_every=3600)
    yield rt
    rt.stop()


def _storage(
    api: TestClient, cloud: Cloud, *, slug: str, readonly: bool, prefix: str = "", **over: Any
) -> dict:
    body = {
        **cloud.body,
        "name": slug,
        "slug": slug,
        "readonly": readonly,
        "prefix": prefix,
        **over,
    }
    r = api.post("/api/teams/acme/storage", json=body)
    assert r.status_code == 200, r.text
    assert cloud.secret not in r.text
    return r.json()


def _fetch(api: TestClient, url: str) -> bytes:
    """GET a moorage link; follow its 307 to the signed URL with plain HTTP, no API key."""
    r = api.get(url, follow_redirects=False)
    assert r.status_code == 307, r.text
    assert r.headers["location"].startswith("http")
    signed = httpx.get(r.headers["location"], timeout=10)
    assert signed.status_code == 200, signed.text[:300]
    return signed.content


class TestProvidersThroughTheApi:
    def test_read_write_registration_processing_and_serving(
        self, api, dataset, cloud: Cloud, runtime, capfd, caplog
    ) -> None:
        base = f"{cloud.root}api-{uuid.uuid4().hex[:8]}/"
        adapter = cloud.adapter()
        image, video = jpeg_bytes(800, 600), make_video(seconds=1, fps=10)
        adapter.put(base + ODD, image, content_type="image/jpeg")
        adapter.put(base + "clip.mp4", video, content_type="video/mp4")
        _storage(api, cloud, slug="rw", readonly=False, prefix=base + "derived")
        check = api.post("/api/teams/acme/storage/rw/check").json()
        assert check["ok"] is True, check
        body = api.post(
            REGISTER,
            json={
                "dataset_slug": "darwin-py",
                "storage_slug": "rw",
                "items": [
                    {"name": "odd.jpg", "storage_key": base + ODD},
                    {"name": "clip.mp4", "storage_key": base + "clip.mp4", "fps": 5},
                    {"name": "gone.jpg", "storage_key": base + "gone.jpg"},
                ],
            },
        ).json()
        assert [b["slots"][0]["reason"] for b in body["blocked_items"]] == ["STORAGE_KEY_NOT_FOUND"]
        assert cloud.secret not in json.dumps(body)
        runtime.join()
        for reg in body["items"]:
            item = api.get(f"/api/v2/teams/acme/items/{reg['id']}").json()
            assert item["processing_status"] == "complete", item.get("processing_error")
            slot = item["slots"][0]
            assert (
                slot["thumbnail_url"].startswith("http")
                and "Signature" not in slot["thumbnail_url"]
            )
            thumb = _fetch(api, slot["thumbnail_url"])
            assert thumb[:3] == b"\xff\xd8\xff"
            if slot["type"] == "image":
                assert _fetch(api, slot["file_url"]) == image
                assert (slot["metadata"]["width"], slot["metadata"]["height"]) == (800, 600)
            else:
                assert slot["total_sections"] == 5
                assert _fetch(api, slot["sections"][0]["hq_url"])[:3] == b"\xff\xd8\xff"
            assert cloud.secret not in json.dumps(item)
        out, err = capfd.readouterr()
        assert "registration.completed" in out + err  # the logs were captured, and hold no secret
        assert cloud.secret not in out + err + caplog.text

    def test_read_only_registration(self, api, dataset, cloud: Cloud) -> None:
        base = f"{cloud.root}ro-{uuid.uuid4().hex[:8]}/"
        adapter = cloud.adapter()
        adapter.put(base + ODD, jpeg_bytes(64, 48))
        adapter.put(base + "thumb.jpg", jpeg_bytes(16, 12))
        _storage(api, cloud, slug="ro", readonly=True, prefix=cloud.root.rstrip("/"))
        assert api.post("/api/teams/acme/storage/ro/check").json()["ok"] is True
        body = api.post(
            REGISTER,
            json={
                "dataset_slug": "darwin-py",
                "storage_slug": "ro",
                "items": [
                    {
                        "name": "a.jpg",
                        "storage_key": base + ODD,
                        "storage_thumbnail_key": base + "thumb.jpg",
                        "width": 64,
                        "height": 48,
                    },
                    {"name": "b.jpg", "storage_key": base + ODD},
                ],
            },
        ).json()
        (item,) = body["items"]
        assert item["processing_status"] == "complete"
        assert body["blocked_items"][0]["slots"][0]["reason"] == "MISSING_READONLY_FIELDS"
        assert _fetch(api, item["slots"][0]["thumbnail_url"]) == adapter.read_bytes(
            base + "thumb.jpg"
        )

    def test_missing_bucket_is_reported_not_a_5xx(self, api, dataset, cloud: Cloud) -> None:
        bucket = "no-such-bucket-here" if cloud.name != "azure" else cloud.body["bucket"]
        root = "no-such-container/" if cloud.name == "azure" else ""
        _storage(
            api, cloud, slug="missing", readonly=True, bucket=bucket, prefix=root.rstrip("/") or "x"
        )
        check = api.post("/api/teams/acme/storage/missing/check").json()
        assert check["ok"] is False
        assert {c["reason"] for c in check["checks"]} == {"STORAGE_BUCKET_NOT_FOUND"}
        r = api.post(
            REGISTER,
            json={
                "dataset_slug": "darwin-py",
                "storage_slug": "missing",
                "items": [
                    {
                        "name": "a.jpg",
                        "storage_key": root + "a.jpg",
                        "storage_thumbnail_key": root + "t.jpg",
                        "width": 4,
                        "height": 4,
                    }
                ],
            },
        )
        assert r.status_code == 200
        assert r.json()["blocked_items"][0]["slots"][0]["reason"] == "STORAGE_BUCKET_NOT_FOUND"
        assert cloud.secret not in r.text + json.dumps(check)


@pytest.fixture
def rejecting_token_endpoint() -> Iterator[str]:
    """An OAuth2 token endpoint that answers as Google's does for a wrong or revoked
    service-account key. fake-gcs-server checks no credentials; Google checks them here."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()


@pytest.mark.parametrize("provider", ["aws", "azure", "gcp"])
def test_wrong_credentials_are_reported(api, dataset, provider, request) -> None:
    if provider == "aws":
        auth = request.getfixturevalue("moto_auth")
        body = {
            "provider": "aws",
            "bucket": S3_BUCKET,
            "region": "us-east-1",
            "endpoint_url": auth.endpoint,
            "options": dict(FAST),
            "credentials": {"access_key_id": "AKIANOBODY", "secret_access_key": "wrong-secret-1"},
        }
    else:
        body = {
            "provider": "azure",
            "bucket": AZURITE_ACCOUNT,
            "endpoint_url": request.getfixturevalue("azurite_endpoint"),
            "options": dict(FAST),
            "credentials": {"account_key": AZURITE_KEY[:-12] + "wrong-secret-1="},
        }
    r = api.post(
        "/api/teams/acme/storage",
        json={**body, "name": "bad", "slug": "bad", "readonly": True, "prefix": AZ_CONTAINER},
    )
    assert r.status_code == 200
    check = api.post("/api/teams/acme/storage/bad/check").json()
    assert check["ok"] is False
    assert {c["reason"] for c in check["checks"]} <= {
        "STORAGE_INVALID_CREDENTIALS",
        "STORAGE_ACCESS_DENIED",
    }
    reg = api.post(
        REGISTER,
        json={
            "dataset_slug": "darwin-py",
            "storage_slug": "bad",
            "items": [
                {
                    "name": "a.jpg",
                    "storage_key": f"{AZ_CONTAINER}/a.jpg",
                    "storage_thumbnail_key": f"{AZ_CONTAINER}/t.jpg",
                    "width": 4,
                    "height": 4,
                }
            ],
        },
    )
    assert reg.status_code == 200
    assert reg.json()["blocked_items"][0]["slots"][0]["reason"] in {
        "STORAGE_INVALID_CREDENTIALS",
        "STORAGE_ACCESS_DENIED",
    }
    assert "wrong-secret-1" not in json.dumps(check) + reg.text
