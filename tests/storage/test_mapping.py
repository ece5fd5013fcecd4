"""Pure pieces: error mapping from service codes, connection strings, the factory, streams.

No server here: these feed the adapters' helpers texts shaped like the errors the libraries
raise, for answers the emulators never give (wrong region, throttling).
"""

from __future__ import annotations

import io

import pytest

from moorage.storage.azure import parse_connection_string
from moorage.storage.base import (
    AccessDenied,
    BucketNotFound,
    ChunkReader,
    InvalidCredentials,
    InvalidKey,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
    open_chunks,
    redact,
)
from moorage.storage.factory import StorageSpec, build_adapter
from moorage.storage.s3 import S3Storage


def s3_error(status: int, reason: str, code: str | None) -> Exception:
    body = f"<Error><Code>{code}</Code><Message>m</Message></Error>" if code else ""
    return Exception(
        "Generic S3 error: Error performing GET https://b.s3.amazonaws.com/k in 20ms - "
        f"Server returned non-2xx status code: {status} {reason}: {body}"
    )


@pytest.fixture
def s3() -> S3Storage:
    return S3Storage(
        "bkt",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        credentials={"access_key_id": "AKIAX", "secret_access_key": "top-secret-value"},
    )


class TestS3ErrorMapping:
    @pytest.mark.parametrize(
        ("status", "reason", "code", "expected", "words"),
        [
            (301, "Moved Permanently", "PermanentRedirect", BucketNotFound, "another region"),
            (400, "Bad Request", "AuthorizationHeaderMalformed", BucketNotFound, "region"),
            (404, "Not Found", "NoSuchBucket", BucketNotFound, "does not exist"),
            (404, "Not Found", "NoSuchKey", ObjectNotFound, "No object"),
            (403, "Forbidden", "InvalidAccessKeyId", InvalidCredentials, "rejected"),
            (403, "Forbidden", "SignatureDoesNotMatch", InvalidCredentials, "rejected"),
            (400, "Bad Request", "ExpiredToken", InvalidCredentials, "rejected"),
            (403, "Forbidden", "AccessDenied", AccessDenied, "Access denied"),
            (503, "Slow Down", "SlowDown", StorageUnavailable, "did not answer"),
            (500, "Internal Server Error", "InternalError", StorageUnavailable, "did not answer"),
            (429, "Too Many Requests", None, StorageUnavailable, "did not answer"),
            (400, "Bad Request", "KeyTooLongError", InvalidKey, "not accepted"),
            (409, "Conflict", "OperationAborted", StorageError, "Could not"),
        ],
    )
    def test_service_codes_map_to_neutral_errors(
        self,
        s3: S3Storage,
        status: int,
        reason: str,
        code: str | None,
        expected: type[StorageError],
        words: str,
    ) -> None:
        error = s3._error(s3_error(status, reason, code), action="read", key="k", bucket="bkt")
        assert type(error) is expected
        assert words in error.message
        if code and expected is not ObjectNotFound:
            assert code in error.message
        assert error.reason == expected.reason

    def test_connection_failures_are_unavailable(self, s3: S3Storage) -> None:
        exc = Exception("Generic S3 error: HTTP error: error sending request for url")
        error = s3._error(exc, action="read", key="k", bucket="bkt")
        assert isinstance(error, StorageUnavailable)
        assert error.retryable

    def test_a_secret_in_a_library_message_never_reaches_ours(self, s3: S3Storage) -> None:
        exc = Exception(
            "status code: 403 Forbidden: key=top-secret-value <Code>AccessDenied</Code>"
        )
        error = s3._error(exc, action="read", key="top-secret-value", bucket="bkt")
        assert "top-secret-value" not in str(error)
        assert "top-secret-value" not in repr(error)


class TestHelpers:
    def test_connection_string_values_may_hold_equal_signs(self) -> None:
        parts = parse_connection_string(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc==;"
            "EndpointSuffix=core.windows.net;"
        )
        assert parts == {
            "DefaultEndpointsProtocol": "https",
            "AccountName": "acct",
            "AccountKey": "abc==",
            "EndpointSuffix": "core.windows.net",
        }

    def test_redact_replaces_every_secret(self) -> None:
        assert redact("a sekret and sekret", ["sekret", "", "ab"]) == "a *** and ***"

    def test_chunk_reader_reads_across_chunks_and_maps_errors(self) -> None:
        def chunks():  # type: ignore[no-untyped-def]
            yield b"abc"
            yield memoryview(b"defg")
            raise OSError("connection reset")

        stream = open_chunks(
            ChunkReader(chunks(), on_error=lambda exc: StorageUnavailable("lost")), buffer_size=2
        )
        assert stream.read(5) == b"abcde"
        with pytest.raises(StorageUnavailable):
            stream.read()
        assert isinstance(stream, io.BufferedReader)


class TestFactory:
    def test_unknown_provider(self) -> None:
        with pytest.raises(StorageError, match="not supported"):
            build_adapter(StorageSpec(provider="dropbox", bucket="b"))

    def test_minio_needs_an_endpoint(self) -> None:
        with pytest.raises(StorageError, match="endpoint_url"):
            build_adapter(StorageSpec(provider="minio", bucket="b"))

    def test_half_s3_credentials_are_refused(self) -> None:
        with pytest.raises(InvalidCredentials):
            build_adapter(
                StorageSpec(provider="aws", bucket="b", credentials={"access_key_id": "AKIA"})
            )

    def test_providers_build_without_network(self, service_account_json: str) -> None:
        specs = [
            StorageSpec(provider="aws", bucket="bucket-b", region="eu-west-1", credentials={
                "access_key_id": "k", "secret_access_key": "s"}),
            StorageSpec(provider="minio", bucket="b", endpoint_url="http://127.0.0.1:9",
                        credentials={"access_key_id": "k", "secret_access_key": "s"}),
            StorageSpec(provider="azure", bucket="acct", credentials={"account_key": "a2V5"}),
            StorageSpec(provider="gcp", bucket="b",
                        credentials={"service_account_json": service_account_json}),
        ]  # fmt: skip
        for spec in specs:
            adapter = build_adapter(spec)
            assert adapter.provider == spec.provider
            assert adapter.list_for_existence

    @pytest.mark.parametrize(
        "key", ["nocontainer", "UPPER/blob.jpg", "ab/blob.jpg", "ok-container/", "a--b/x"]
    )
    def test_azure_keys_need_a_valid_container(self, key: str) -> None:
        adapter = build_adapter(
            StorageSpec(provider="azure", bucket="acct", credentials={"account_key": "a2V5"})
        )
        with pytest.raises(InvalidKey):
            adapter.check_key(key)
