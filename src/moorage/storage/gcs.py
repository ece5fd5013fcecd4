"""Google Cloud Storage through google-cloud-storage (keys exclude the bucket).

obstore could read but not write through fake-gcs-server, so GCS uses Google's own client.
Signed URLs are V4, signed locally with the service account's RSA key.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any, BinaryIO, TypeVar

import requests
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.auth import exceptions as auth_exc
from google.auth.credentials import AnonymousCredentials, Credentials, Signing
from google.auth.transport.requests import AuthorizedSession, Request
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from moorage.storage.base import (
    AccessDenied,
    BucketNotFound,
    ChunkReader,
    InvalidCredentials,
    InvalidKey,
    ListPage,
    ObjectInfo,
    ObjectNotFound,
    StorageAdapter,
    StorageError,
    StorageUnavailable,
    Tuning,
    open_chunks,
    redact,
    validate_key,
)
from moorage.storage.egress import EgressPolicy, EndpointRefused
from moorage.storage.egress_proxy import Ticket, proxy_for

__all__ = ["DEFAULT_TOKEN_URI", "GCSStorage", "token_uri_of"]

DEFAULT_ENDPOINT = "https://storage.googleapis.com"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL


def token_uri_of(raw_json: str) -> str | None:
    """The ``token_uri`` a service-account key names (google-auth POSTs the key's JWT there)."""
    try:
        info = json.loads(raw_json)
    except ValueError:
        return None
    uri = info.get("token_uri") if isinstance(info, dict) else None
    return str(uri) if uri else None


T = TypeVar("T")
SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"]
READ_CHUNK = 8 << 20


class GCSStorage(StorageAdapter):
    provider = "gcp"
    list_for_existence = True
    _PROBE_TTL = 10.0

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        credentials: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
        egress: EgressPolicy | None = None,
        ambient: bool = False,
    ) -> None:
        options = dict(options or {})
        creds = dict(credentials or {})
        self.tuning = Tuning.from_options(options)
        self.max_concurrency = self.tuning.max_concurrency
        self.bucket_name = bucket
        self.endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        raw_json = creds.get("service_account_json", "")
        self._secrets = [raw_json]
        self._signer: Credentials | None = None
        project = options.get("project")
        if raw_json:
            from google.oauth2 import service_account

            try:
                info = json.loads(raw_json)
                signer = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    info, scopes=SCOPES
                )
            except (ValueError, KeyError, TypeError):
                raise InvalidCredentials(
                    "The GCS service_account_json is not a valid service account key."
                ) from None
            self._secrets.append(str(info.get("private_key", "")))
            project = project or info.get("project_id")
            self._signer = signer
        anonymous = bool(options.get("anonymous") or options.get("emulator"))
        # without a key of its own a storage is anonymous unless the operator lent it the
        # server's credentials (google.auth.default: ADC, gcloud, metadata server)
        if self._signer is None and not ambient:
            anonymous = True
        request_creds: Credentials
        if anonymous:
            request_creds = AnonymousCredentials()  # type: ignore[no-untyped-call]
        elif self._signer is not None:
            request_creds = self._signer
        else:
            import google.auth

            try:
                request_creds, found_project = google.auth.default(scopes=SCOPES)
            except auth_exc.DefaultCredentialsError:
                raise InvalidCredentials(
                    "No GCS credentials: give service_account_json or set "
                    "GOOGLE_APPLICATION_CREDENTIALS."
                ) from None
            project = project or found_project
            if isinstance(request_creds, Signing):
                self._signer = request_creds
        token_uri = str(getattr(self._signer, "_token_uri", "") or DEFAULT_TOKEN_URI)
        custom = self.endpoint_url not in (None, DEFAULT_ENDPOINT) or token_uri != DEFAULT_TOKEN_URI
        self._ticket: Ticket | None = proxy_for(egress).ticket() if egress and custom else None
        session = AuthorizedSession(
            request_creds,  # type: ignore[no-untyped-call]
            auth_request=Request(self._session()),  # token refreshes go the same way
        )
        self._configure(session)
        # explicit, so that STORAGE_EMULATOR_HOST / API_ENDPOINT_OVERRIDE cannot apply
        client_options = {"api_endpoint": self.endpoint_url or DEFAULT_ENDPOINT}
        self._client = storage.Client(
            project=project or "moorage",
            credentials=request_creds,
            _http=session,
            client_options=client_options,
        )
        self._bucket = self._client.bucket(bucket)
        self._timeout = (self.tuning.connect_timeout, self.tuning.timeout)
        self._retry: Retry = DEFAULT_RETRY.with_delay(
            initial=0.1, maximum=5.0, multiplier=2.0
        ).with_timeout(self.tuning.retry_timeout)
        self._probe: tuple[float, StorageError | None] | None = None
        self._probe_lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = requests.Session()
        self._configure(session)
        return session

    def _configure(self, session: requests.Session) -> None:
        # no HTTP(S)_PROXY / NO_PROXY / .netrc from the environment: a team's traffic goes
        # where this adapter says, and a team-named host only through the egress proxy
        session.trust_env = False
        if self._ticket is not None:
            session.proxies = {"http": self._ticket.url, "https": self._ticket.url}
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=self.max_concurrency, max_retries=0
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)

    def close(self) -> None:
        if self._ticket is not None:
            self._ticket.release()

    def __repr__(self) -> str:
        return f"GCSStorage(bucket={self.bucket_name!r}, endpoint_url={self.endpoint_url!r})"

    def check_key(self, key: str) -> str:
        validate_key(key)
        if key in (".", "..") or "\r" in key or "\n" in key:
            raise InvalidKey(f"The storage key {key!r} is not a valid GCS object name.", key=key)
        return key

    # -- errors ----------------------------------------------------------------------------
    def _error(self, exc: Exception, *, action: str, key: str | None) -> StorageError:
        refused = self._ticket.last_refusal() if self._ticket is not None else None
        if refused is not None:
            return EndpointRefused(
                f"Could not {action} in bucket {self.bucket_name!r}: the server's network "
                f"policy refused the connection: {refused}.",
                key=key,
            )
        unreachable = self._ticket.last_unreachable() if self._ticket is not None else None
        if unreachable is not None and getattr(exc, "code", None) in (None, 502):
            return StorageUnavailable(
                f"Could not {action} in bucket {self.bucket_name!r}: {unreachable}.", key=key
            )
        if isinstance(exc, gexc.RetryError) and isinstance(exc.cause, Exception):
            exc = exc.cause
        where = f"bucket {self.bucket_name!r}"
        subject = f"{action} {key!r} in {where}" if key is not None else f"{action} {where}"
        code = getattr(exc, "code", None)
        detail = f"HTTP {code}" if isinstance(code, int) else type(exc).__name__
        error: StorageError
        if isinstance(exc, auth_exc.RefreshError | gexc.Unauthorized):
            error = InvalidCredentials(f"The credentials were rejected ({detail}).", key=key)
        elif isinstance(exc, gexc.Forbidden):
            error = AccessDenied(f"Access denied to {subject} ({detail}).", key=key)
        elif isinstance(exc, gexc.NotFound):
            error = ObjectNotFound(f"No object at storage key {key!r} in {where}.", key=key)
        elif isinstance(
            exc,
            gexc.TooManyRequests
            | gexc.ServerError
            | gexc.RetryError
            | requests.ConnectionError
            | requests.Timeout
            | auth_exc.TransportError,
        ):
            error = StorageUnavailable(
                f"The storage did not answer to {subject} ({detail}).", key=key
            )
        elif isinstance(exc, gexc.BadRequest):
            error = InvalidKey(f"The storage key {key!r} is not accepted ({detail}).", key=key)
        else:
            error = StorageError(f"Could not {subject} ({detail}).", key=key)
        error.message = redact(error.message, self._secrets)
        error.args = (error.message,)
        return error

    def _call(self, fn: Callable[[], T], *, action: str, key: str | None) -> T:
        try:
            return fn()
        except StorageError:
            raise
        except Exception as exc:
            error = self._error(exc, action=action, key=key)
        if isinstance(error, ObjectNotFound | AccessDenied) and key is not None:
            cause = self._bucket_problem()
            if cause is not None:
                error = type(cause)(cause.message, key=key)
        raise error

    def _bucket_problem(self) -> StorageError | None:
        """Missing bucket or bad credentials, told apart from a missing object (cached)."""
        with self._probe_lock:
            if self._probe is not None and time.monotonic() - self._probe[0] < self._PROBE_TTL:
                return self._probe[1]
            problem: StorageError | None = None
            try:
                iterator = self._client.list_blobs(
                    self.bucket_name, max_results=1, timeout=self._timeout, retry=self._retry
                )
                next(iter(iterator.pages), None)
            except Exception as exc:
                found = self._error(exc, action="list", key=None)
                if isinstance(found, ObjectNotFound):
                    problem = BucketNotFound(f"Bucket {self.bucket_name!r} does not exist.")
                elif isinstance(found, InvalidCredentials):
                    problem = found
            self._probe = (time.monotonic(), problem)
            return problem

    # -- the interface ---------------------------------------------------------------------
    def head(self, key: str) -> ObjectInfo:
        self.check_key(key)
        blob = self._bucket.blob(key)
        self._call(
            lambda: blob.reload(timeout=self._timeout, retry=self._retry), action="read", key=key
        )
        return ObjectInfo(
            key=key,
            size=int(blob.size or 0),
            etag=blob.etag,
            content_type=blob.content_type,
            last_modified=blob.updated,
        )

    def read_range(self, key: str, start: int, end: int) -> bytes:
        self.check_key(key)
        if end <= start:
            return b""
        return self._download(self._bucket.blob(key), key, start, end)

    def _download(self, blob: storage.Blob, key: str, start: int, end: int) -> bytes:
        def fetch() -> bytes:
            try:
                return bytes(
                    blob.download_as_bytes(
                        start=start,
                        end=end - 1,
                        raw_download=True,
                        checksum=None,
                        timeout=self._timeout,
                        retry=self._retry,
                    )
                )
            except gexc.RequestRangeNotSatisfiable:
                return b""

        return self._call(fetch, action="read", key=key)

    def open_read(self, key: str) -> BinaryIO:
        self.check_key(key)
        info = self._bucket.blob(key)
        self._call(
            lambda: info.reload(timeout=self._timeout, retry=self._retry), action="read", key=key
        )
        # pin the generation, so an overwrite mid-read cannot mix two versions
        blob = self._bucket.blob(key, generation=info.generation)
        size = int(info.size or 0)

        def chunks() -> Iterator[bytes]:
            for offset in range(0, size, READ_CHUNK):
                yield self._download(blob, key, offset, min(size, offset + READ_CHUNK))

        reader = ChunkReader(
            chunks(), on_error=lambda exc: self._error(exc, action="read", key=key)
        )
        return open_chunks(reader)

    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        self.check_key(key)
        blob = self._bucket.blob(key)
        self._call(
            lambda: blob.upload_from_string(
                data,
                content_type=content_type or "application/octet-stream",
                timeout=self._timeout,
                retry=self._retry,
            ),
            action="write",
            key=key,
        )

    def delete(self, key: str) -> None:
        self.check_key(key)
        blob = self._bucket.blob(key)
        with contextlib.suppress(ObjectNotFound):
            self._call(
                lambda: blob.delete(timeout=self._timeout, retry=self._retry),
                action="delete",
                key=key,
            )

    def list_page(self, prefix: str, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        def fetch() -> ListPage:
            iterator = self._client.list_blobs(
                self.bucket_name,
                prefix=prefix or None,
                page_size=limit,
                page_token=cursor,
                timeout=self._timeout,
                retry=self._retry,
            )
            page = next(iter(iterator.pages), None)
            blobs = list(page) if page is not None else []
            objects = [
                ObjectInfo(
                    key=b.name,
                    size=int(b.size or 0),
                    etag=b.etag,
                    content_type=b.content_type,
                    last_modified=b.updated,
                )
                for b in blobs
            ]
            return ListPage(objects=objects, next_cursor=iterator.next_page_token or None)

        try:
            return self._call(fetch, action="list", key=None)
        except ObjectNotFound:
            raise BucketNotFound(f"Bucket {self.bucket_name!r} does not exist.") from None

    def sign_url(self, key: str, *, expires_in: int) -> str | None:
        return self._sign(key, "GET", expires_in)

    def sign_put(self, key: str, *, expires_in: int) -> str | None:
        """A V4 signed PUT: the client sends the bytes straight to the bucket. No headers are
        signed (darwin-py sends none but Content-Length), so any Content-Type is accepted."""
        return self._sign(key, "PUT", expires_in)

    def _sign(self, key: str, method: str, expires_in: int) -> str | None:
        self.check_key(key)
        if self._signer is None:
            return None  # no key to sign with (e.g. user credentials): the server streams
        blob = self._bucket.blob(key)
        signer = self._signer
        url: str = self._call(
            lambda: blob.generate_signed_url(
                version="v4",
                expiration=timedelta(seconds=expires_in),
                method=method,
                credentials=signer,
                api_access_endpoint=self.endpoint_url or DEFAULT_ENDPOINT,
            ),
            action="sign",
            key=key,
        )
        return url
