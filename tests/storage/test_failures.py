"""Wrong credentials, missing buckets, outages and secrets, on the real wire protocols.

Which emulator enforces what: Azurite checks shared-key signatures and SAS; moto checks
nothing by default, so wrong-credential tests use a ``moto_server`` whose auth switch
(``/moto-api/reset-auth``, like INITIAL_NO_AUTH_ACTION_COUNT=0) is on; fake-gcs-server
accepts any credentials, so GCS has no wrong-credential test over the wire.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from moorage.storage.base import (
    AccessDenied,
    BucketNotFound,
    InvalidCredentials,
    InvalidKey,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)
from moorage.storage.factory import StorageSpec, build_adapter
from tests.storage.conftest import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    FAST,
    AuthS3,
    Backend,
    free_port,
)

WRONG_AZURE_KEY = "QUJD" + AZURITE_KEY[4:]


def assert_no_secret(exc: BaseException, secret: str, caplog: pytest.LogCaptureFixture) -> None:
    for text in (str(exc), repr(exc), getattr(exc, "message", ""), caplog.text):
        assert secret not in text
        assert secret[:16] not in text


def raised(fn: object) -> StorageError:
    assert callable(fn)
    try:
        fn()
    except StorageError as exc:
        return exc
    raise AssertionError("no StorageError raised")


class TestWrongCredentials:
    def test_s3_unknown_access_key(
        self, moto_auth: AuthS3, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        secret = "wrong-secret-value-7Hq2"
        store = build_adapter(
            moto_auth.spec({"access_key_id": "AKIAUNKNOWN", "secret_access_key": secret})
        )
        for op in (
            lambda: store.list_page(""),
            lambda: store.put("x.txt", b"x"),
            lambda: store.head("x.txt"),
        ):
            exc = raised(op)
            assert isinstance(exc, InvalidCredentials), exc
            assert "rejected" in exc.message
            assert_no_secret(exc, secret, caplog)

    def test_s3_wrong_secret_for_a_known_key(
        self, moto_auth: AuthS3, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        creds = {**moto_auth.rw, "secret_access_key": "not-the-secret-Zk81"}
        store = build_adapter(moto_auth.spec(creds))
        exc = raised(lambda: store.list_page(""))
        assert isinstance(exc, InvalidCredentials)
        assert_no_secret(exc, creds["secret_access_key"], caplog)

    def test_s3_right_credentials_work_on_the_enforcing_server(self, moto_auth: AuthS3) -> None:
        store = build_adapter(moto_auth.spec(moto_auth.rw))
        store.put("auth/ok.txt", b"ok")
        assert store.read_bytes("auth/ok.txt") == b"ok"

    def test_s3_credentials_from_the_environment(
        self, moto_auth: AuthS3, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_auth.rw["access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_auth.rw["secret_access_key"])
        # only with the operator's grant: without it a storage with no credentials is anonymous
        store = build_adapter(moto_auth.spec({}, allow_ambient_credentials=True))
        store.put("auth/env.txt", b"env")
        assert store.head("auth/env.txt").size == 3

    def test_s3_denied_write_is_access_denied(
        self, moto_auth: AuthS3, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        store = build_adapter(moto_auth.spec(moto_auth.ro))
        exc = raised(lambda: store.put("auth/denied.txt", b"x"))
        assert isinstance(exc, AccessDenied)
        assert_no_secret(exc, moto_auth.ro["secret_access_key"], caplog)

    def test_azure_wrong_account_key(
        self, azurite_endpoint: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        store = build_adapter(
            StorageSpec(
                provider="azure",
                bucket=AZURITE_ACCOUNT,
                endpoint_url=azurite_endpoint,
                credentials={"account_key": WRONG_AZURE_KEY},
                options=dict(FAST),
            )
        )
        for op in (
            lambda: store.list_page("moorage-test/"),
            lambda: store.head("moorage-test/x.jpg"),
            lambda: store.put("moorage-test/x.jpg", b"x"),
        ):
            exc = raised(op)
            assert isinstance(exc, InvalidCredentials), exc
            assert_no_secret(exc, WRONG_AZURE_KEY, caplog)

    def test_azure_connection_string_and_sas_token(
        self, azurite_endpoint: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from datetime import UTC, datetime, timedelta

        from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

        monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_KEY", raising=False)
        monkeypatch.delenv("AZURE_STORAGE_KEY", raising=False)
        conn = (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={azurite_endpoint};"
        )
        spec = StorageSpec(provider="azure", bucket="", credentials={"connection_string": conn})
        by_conn = build_adapter(replace(spec, bucket=AZURITE_ACCOUNT))
        by_conn.put("moorage-test/conn/a.txt", b"a")
        assert by_conn.sign_url("moorage-test/conn/a.txt", expires_in=60) is not None
        sas = generate_account_sas(
            AZURITE_ACCOUNT,
            AZURITE_KEY,
            resource_types=ResourceTypes(container=True, object=True),
            permission=AccountSasPermissions(read=True, list=True),
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )
        by_sas = build_adapter(
            StorageSpec(
                provider="azure",
                bucket=AZURITE_ACCOUNT,
                endpoint_url=azurite_endpoint,
                credentials={"sas_token": "?" + sas},
            )
        )
        assert by_sas.read_bytes("moorage-test/conn/a.txt") == b"a"
        assert [o.key for o in by_sas.list_page("moorage-test/conn/").objects] == [
            "moorage-test/conn/a.txt"
        ]
        assert by_sas.sign_url("moorage-test/conn/a.txt", expires_in=60) is None
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
        from_env = build_adapter(
            StorageSpec(provider="azure", bucket=AZURITE_ACCOUNT, allow_ambient_credentials=True)
        )
        assert from_env.exists("moorage-test/conn/a.txt")


class TestMissingBucket:
    def test_missing_bucket_is_bucket_not_found(self, backend: Backend) -> None:
        if backend.name == "azure":
            store, key, prefix = backend.adapter(), "no-such-container/x.jpg", "no-such-container/"
        elif backend.name == "local":
            store = backend.adapter(bucket=backend.spec.bucket + "/no-such-folder")
            key, prefix = "x.jpg", ""
        else:
            store, key, prefix = backend.adapter(bucket="no-such-bucket-42"), "x.jpg", ""
        with pytest.raises(BucketNotFound):
            store.list_page(prefix)
        if backend.name != "local":  # the local adapter makes folders as it writes
            with pytest.raises(BucketNotFound):
                store.head(key)
            with pytest.raises(BucketNotFound):
                store.put(key, b"x")


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    yield int(sock.getsockname()[1])
    sock.close()


def unreachable(backend: Backend, port: int) -> StorageSpec:
    endpoint = f"http://127.0.0.1:{port}"
    if backend.name == "azure":
        endpoint += f"/{AZURITE_ACCOUNT}"
    options = {
        **backend.spec.options,
        "timeout": 0.5,
        "connect_timeout": 0.5,
        "retry_timeout": 1,
    }
    return replace(backend.spec, endpoint_url=endpoint, options=options)


class TestOutage:
    @pytest.mark.providers("aws", "azure", "gcp")
    @pytest.mark.parametrize("server", ["stopped", "silent"])
    def test_check_many_blocks_every_key_in_bounded_time(
        self,
        backend: Backend,
        server: str,
        blackhole: int,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        port = free_port() if server == "stopped" else blackhole
        store = build_adapter(unreachable(backend, port))
        keys = [backend.key(f"dense/{i:04d}.jpg") for i in range(150)]
        keys += [backend.key(f"sparse{i}/x.jpg") for i in range(150)]
        started = time.monotonic()
        results = store.check_many(keys)
        elapsed = time.monotonic() - started
        assert elapsed < 20
        assert set(results) == set(keys)
        assert all(isinstance(r, StorageUnavailable) for r in results.values()), {
            type(r).__name__ for r in results.values()
        }
        if backend.secret:
            assert backend.secret[:16] not in caplog.text

    @pytest.mark.providers("aws", "azure", "gcp")
    def test_single_head_raises_storage_unavailable(self, backend: Backend, blackhole: int) -> None:
        store = build_adapter(unreachable(backend, blackhole))
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            store.head(backend.key("x.jpg"))
        assert time.monotonic() - started < 15

    def test_s3_server_stopped_mid_session(self) -> None:
        import boto3
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        ).create_bucket(Bucket="short-lived")
        spec = StorageSpec(
            provider="minio",
            bucket="short-lived",
            endpoint_url=endpoint,
            credentials={"access_key_id": "t", "secret_access_key": "t-secret"},
            options={**FAST, "retry_timeout": 2},
        )
        store = build_adapter(spec)
        store.put("a.txt", b"a")
        assert store.check_many(["a.txt", "b.txt"])["a.txt"] is None
        server.stop()
        started = time.monotonic()
        results = store.check_many(["a.txt", "b.txt", *[f"k/{i}" for i in range(100)]])
        assert time.monotonic() - started < 20
        assert all(isinstance(r, StorageUnavailable) for r in results.values())


class TestSecretsStayOut:
    @pytest.mark.providers("aws", "azure", "gcp")
    def test_adapter_repr_and_spec_repr_hold_no_secret(self, backend: Backend) -> None:
        store = backend.adapter()
        assert backend.secret[:16] not in repr(store)
        assert backend.secret[:16] not in repr(backend.spec)

    def test_gcs_bad_service_account_json_is_invalid_credentials(self) -> None:
        secret = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n"
        bad = json.dumps({"type": "service_account", "private_key": secret})
        with pytest.raises(InvalidCredentials) as info:
            build_adapter(
                StorageSpec(provider="gcp", bucket="b", credentials={"service_account_json": bad})
            )
        assert "not-a-real-key" not in str(info.value)
        assert info.value.__cause__ is None


class TestGcsTokenPath:
    def test_unreachable_token_endpoint_is_bounded_and_keeps_the_key_secret(
        self, gcs_endpoint: str, service_account_json: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Without the emulator switch the key is exchanged for a token at its token_uri
        (a closed loopback port here): the failure is bounded and names no secret."""
        caplog.set_level(logging.DEBUG)
        store = build_adapter(
            StorageSpec(
                provider="gcp",
                bucket="moorage-test",
                endpoint_url=gcs_endpoint,
                credentials={"service_account_json": service_account_json},
                options={"timeout": 1, "connect_timeout": 1, "retry_timeout": 2},
            )
        )
        started = time.monotonic()
        exc = raised(lambda: store.head("x.jpg"))
        assert time.monotonic() - started < 15
        assert isinstance(exc, StorageUnavailable | InvalidCredentials)
        private_key = json.loads(service_account_json)["private_key"]
        assert_no_secret(exc, private_key.splitlines()[1], caplog)


class TestForeignKeys:
    def test_keys_obstore_cannot_address_are_named_not_crashed_on(self, moto_endpoint: str) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        client.put_object(Bucket="moorage-test", Key="foreign/a//b.jpg", Body=b"x")
        client.put_object(Bucket="moorage-test", Key="foreign/ok.jpg", Body=b"x")
        store = build_adapter(
            StorageSpec(
                provider="minio",
                bucket="moorage-test",
                endpoint_url=moto_endpoint,
                credentials={"access_key_id": "t", "secret_access_key": "t-secret"},
                options=dict(FAST),
            )
        )
        exc = raised(lambda: store.list_page("foreign/"))
        assert isinstance(exc, InvalidKey)
        assert "empty or '.' segment" in exc.message
        keys = ["foreign/ok.jpg", "foreign/a//b.jpg"] + [f"foreign/{i}.jpg" for i in range(70)]
        results = store.check_many(keys)
        assert results["foreign/ok.jpg"] is None
        assert isinstance(results["foreign/a//b.jpg"], InvalidKey)
        assert all(isinstance(results[k], ObjectNotFound) for k in keys[2:])
