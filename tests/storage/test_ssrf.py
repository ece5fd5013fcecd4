"""SSRF and ambient credentials, attacked through the API on both engines.

A loopback canary records every connection it gets; no storage a team configures may reach it.
Only 127.0.0.2 is allow-listed here (the "allowed" server a redirect starts from); the canary,
PostgreSQL and the metadata addresses are not.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import REGISTER
from tests.storage.conftest import AZ_CONTAINER, AZURITE_ACCOUNT, FAST

ALLOWED = "127.0.0.2"


@pytest.fixture
def allowed_endpoints() -> str:
    return ALLOWED


@dataclass
class Canary:
    """A TCP server on 127.0.0.1 that records who connected (and answers a bare 200)."""

    sock: socket.socket
    port: int
    seen: list[bytes] = field(default_factory=list)

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                self.seen.append(data)  # before answering: the answer tells it was recorded
                with contextlib.suppress(OSError):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    def contacts(self) -> list[bytes]:
        """Every connection so far: a last one of our own marks the end of the queue."""
        with socket.create_connection(("127.0.0.1", self.port)) as probe:
            probe.sendall(b"SENTINEL")
            probe.recv(100)
        assert self.seen[-1] == b"SENTINEL"
        return self.seen[:-1]


@pytest.fixture
def canary() -> Iterator[Canary]:
    sock = socket.create_server(("127.0.0.1", 0))
    found = Canary(sock, sock.getsockname()[1])
    thread = threading.Thread(target=found.serve, daemon=True)
    thread.start()
    yield found
    sock.close()


def _create(api: TestClient, **body: Any) -> Any:
    body = {"name": "evil", "provider": "minio", "bucket": "bucket", "readonly": True, **body}
    body.setdefault("options", dict(FAST))
    return api.post("/api/teams/acme/storage", json=body)


def _refused(response: Any, field_name: str = "endpoint_url") -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field_name, error
    return str(error["message"])


class TestEndpointRefusedOnCreate:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:{port}",
            "http://127.0.0.1:5432",
            "http://169.254.169.254",
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal",
            "http://100.100.100.200",
            "http://[fd00:ec2::254]",
            "http://localhost:{port}",
            "http://[::1]:{port}",
            "http://[::ffff:127.0.0.1]:{port}",
            "http://2130706433:{port}",
            "http://0x7f000001:{port}",
            "http://0177.0.0.1:{port}",
            "http://127.1:{port}",
            "http://10.0.0.1",
            "http://0.0.0.0:{port}",
        ],
    )
    def test_internal_endpoint_is_422(self, api: TestClient, canary: Canary, url: str) -> None:
        message = _refused(_create(api, endpoint_url=url.format(port=canary.port)))
        assert "refused" in message
        assert api.get("/api/teams/acme/storage").json() == []
        assert canary.contacts() == []

    @pytest.mark.parametrize(
        "url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x", "//example.com", "x"]
    )
    def test_other_schemes_are_422(self, api: TestClient, url: str) -> None:
        assert "http" in _refused(_create(api, endpoint_url=url))

    def test_update_to_internal_endpoint_is_422(self, api: TestClient, canary: Canary) -> None:
        created = _create(api, endpoint_url=f"http://{ALLOWED}:9")
        assert created.status_code == 200, created.text
        r = api.patch(
            "/api/teams/acme/storage/evil", json={"endpoint_url": f"http://127.0.0.1:{canary.port}"}
        )
        _refused(r)
        assert api.get("/api/teams/acme/storage").json()[0]["endpoint_url"] == f"http://{ALLOWED}:9"
        assert canary.contacts() == []

    def test_azure_connection_string_blob_endpoint(self, api: TestClient, canary: Canary) -> None:
        conn = (
            f"AccountName={AZURITE_ACCOUNT};AccountKey=a2V5;"
            f"BlobEndpoint=http://127.0.0.1:{canary.port}/{AZURITE_ACCOUNT}"
        )
        r = _create(
            api,
            provider="azure",
            bucket=AZURITE_ACCOUNT,
            prefix=AZ_CONTAINER,
            credentials={"connection_string": conn},
        )
        assert "blob endpoint" in _refused(r, "credentials")
        assert canary.contacts() == []

    def test_gcs_token_uri(
        self, api: TestClient, canary: Canary, service_account_json: str
    ) -> None:
        key = {**json.loads(service_account_json), "token_uri": f"http://127.0.0.1:{canary.port}/"}
        r = _create(
            api,
            provider="gcp",
            bucket="bucket",
            credentials={"service_account_json": json.dumps(key)},
        )
        assert "token_uri" in _refused(r, "credentials")
        assert canary.contacts() == []

    @pytest.mark.parametrize(
        ("body", "field_name"),
        [
            ({"provider": "aws", "bucket": "x.evil.com#"}, "bucket"),
            ({"provider": "aws", "bucket": "bucket", "region": "evil.com/x"}, "region"),
            ({"provider": "azure", "bucket": "evil.com#", "prefix": "c"}, "bucket"),
        ],
    )
    def test_names_cannot_steer_provider_hosts(
        self, api: TestClient, body: dict[str, Any], field_name: str
    ) -> None:
        _refused(_create(api, **body), field_name)


class _Redirect(BaseHTTPRequestHandler):
    target = ""
    hits: list[str] = []

    def _answer(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(307)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def redirector(canary: Canary) -> Iterator[str]:
    """An allow-listed server (127.0.0.2) that redirects every request to the canary."""
    _Redirect.target = f"http://127.0.0.1:{canary.port}"
    _Redirect.hits = []
    server = ThreadingHTTPServer((ALLOWED, 0), _Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{ALLOWED}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


BODIES = {
    "aws": {"provider": "minio", "bucket": "bucket"},
    "azure": {"provider": "azure", "bucket": AZURITE_ACCOUNT, "prefix": AZ_CONTAINER,
              "credentials": {"account_key": "a2V5"}},
    "gcp": {"provider": "gcp", "bucket": "bucket", "options": {**FAST, "emulator": True}},
}  # fmt: skip


def _check_refused(api: TestClient, slug: str = "evil") -> None:
    check = api.post(f"/api/teams/acme/storage/{slug}/check")
    assert check.status_code == 200, check.text
    body = check.json()
    assert body["ok"] is False
    reasons = {c["reason"] for c in body["checks"]}
    assert "STORAGE_ENDPOINT_REFUSED" in reasons, body
    assert reasons <= {"STORAGE_ENDPOINT_REFUSED", "NOT_CHECKED"}, body
    assert "network policy" in body["checks"][0]["message"]


def _register_refused(api: TestClient) -> None:
    api.post("/api/datasets", json={"name": "Darwin Py"})
    r = api.post(
        REGISTER,
        json={"dataset_slug": "darwin-py", "storage_slug": "evil",
              "items": [{"name": "a.jpg", "storage_key": f"{AZ_CONTAINER}/a.jpg"}]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    blocked = r.json()["blocked_items"]
    assert [b["slots"][0]["reason"] for b in blocked] == ["STORAGE_ENDPOINT_REFUSED"], blocked


class TestConnectTime:
    @pytest.mark.parametrize("provider", ["aws", "azure", "gcp"])
    def test_dns_rebinding_is_refused_at_connect(
        self, api: TestClient, canary: Canary, rebinding: dict[str, str], provider: str
    ) -> None:
        """The name resolves to an allowed address when created, to the canary afterwards."""
        answer = rebinding
        answer["rebind.test"] = ALLOWED
        suffix = f"/{AZURITE_ACCOUNT}" if provider == "azure" else ""
        url = f"http://rebind.test:{canary.port}{suffix}"
        r = _create(api, **BODIES[provider], endpoint_url=url, readonly=False)
        assert r.status_code == 200, r.text
        answer["rebind.test"] = "127.0.0.1"
        _check_refused(api)
        _register_refused(api)
        assert canary.contacts() == []

    @pytest.mark.parametrize("provider", ["aws", "azure", "gcp"])
    def test_redirect_to_internal_address_is_not_followed(
        self, api: TestClient, canary: Canary, redirector: str, provider: str
    ) -> None:
        suffix = f"/{AZURITE_ACCOUNT}" if provider == "azure" else ""
        r = _create(api, **BODIES[provider], endpoint_url=redirector + suffix)
        assert r.status_code == 200, r.text
        check = api.post("/api/teams/acme/storage/evil/check").json()
        assert check["ok"] is False, check
        assert _Redirect.hits, "the allow-listed server was never asked"
        assert canary.contacts() == []


class _Metadata(BaseHTTPRequestHandler):
    """A fake instance-metadata service: records what was asked, knows nothing."""

    hits: list[str] = []

    def _answer(self) -> None:
        type(self).hits.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


class TestAmbientCredentials:
    """A storage without credentials never borrows the server's, unless the operator says so."""

    @pytest.fixture
    def allowed_endpoints(self) -> str:
        return "127.0.0.1"  # the emulators and, for this test only, the metadata server

    @pytest.fixture
    def metadata(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[type[_Metadata]]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Metadata)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        host = f"127.0.0.1:{server.server_address[1]}"
        _Metadata.hits = []
        for name in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_PROFILE",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "AZURE_STORAGE_CONNECTION_STRING",
        ):
            monkeypatch.delenv(name, raising=False)  # fmt: skip
        for name in (
            "AWS_METADATA_ENDPOINT",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            "AWS_ENDPOINT_URL",
            "AZURE_MSI_ENDPOINT",
            "AZURE_IDENTITY_ENDPOINT",
            "IDENTITY_ENDPOINT",
            "MSI_ENDPOINT",
        ):
            monkeypatch.setenv(name, f"http://{host}")  # fmt: skip
        monkeypatch.setenv("IDENTITY_HEADER", "x")
        monkeypatch.setenv("GCE_METADATA_HOST", host)
        monkeypatch.setenv("GCE_METADATA_IP", host)
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
        monkeypatch.setenv("HOME", str(tmp_path))
        yield _Metadata
        server.shutdown()
        server.server_close()

    @pytest.mark.parametrize("provider", ["aws", "gcp"])
    def test_metadata_is_asked_only_with_the_operators_grant(
        self,
        api: TestClient,
        ctx: Any,
        metadata: type[_Metadata],
        monkeypatch: pytest.MonkeyPatch,
        provider: str,
        request: pytest.FixtureRequest,
    ) -> None:
        from typer.testing import CliRunner

        from moorage.cli import app

        if provider == "aws":
            body = {"provider": "aws", "bucket": "moorage-test",
                    "endpoint_url": request.getfixturevalue("moto_endpoint")}  # fmt: skip
        else:
            body = {"provider": "gcp", "bucket": "moorage-test",
                    "endpoint_url": request.getfixturevalue("gcs_endpoint")}  # fmt: skip
        r = _create(api, **body, slug="bare")
        assert r.status_code == 200, r.text
        assert r.json()["ambient_credentials"] is False
        api.post("/api/teams/acme/storage/bare/check")
        assert metadata.hits == []

        monkeypatch.setenv("MOORAGE_DATABASE_URL", ctx.db.url)
        monkeypatch.setenv("MOORAGE_SECRET_KEY", "test-secret")
        args = ["admin", "allow-ambient-credentials", "--team", "acme", "--storage", "bare"]
        data_dir = ["--data-dir", str(ctx.settings.data_dir)]
        result = CliRunner().invoke(app, args + data_dir)
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["ambient_credentials"] is True
        api.post("/api/teams/acme/storage/bare/check")
        assert metadata.hits, "the granted storage did not use the server's credentials"

        metadata.hits.clear()
        result = CliRunner().invoke(app, [*args, "--revoke", *data_dir])
        assert result.exit_code == 0, result.output
        api.post("/api/teams/acme/storage/bare/check")
        assert metadata.hits == []
