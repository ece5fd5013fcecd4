"""What the S3 and Azure adapters share: obstore calls, error mapping, reading and listing.

obstore (Rust ``object_store``) does the signing, retries with backoff and connection pooling;
its calls release the GIL, so a thread pool scales.
"""

from __future__ import annotations

import abc
import contextlib
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, BinaryIO, TypeVar

import obstore
from obstore.exceptions import (
    InvalidPathError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)

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

if TYPE_CHECKING:
    from obstore import ObjectMeta
    from obstore.store import ClientConfig, ObjectStore, RetryConfig

    from moorage.storage.egress import EgressPolicy
    from moorage.storage.egress_proxy import Ticket

__all__ = ["ObstoreAdapter", "describe"]

T = TypeVar("T")

_CODE = re.compile(r"<Code>([A-Za-z0-9.]+)</Code>")
_STATUS = re.compile(r"status code: (\d{3})")
_UNREACHABLE = ("error sending request", "timed out", "timeout", "connection", "dns error")


def _codes(names: str) -> frozenset[str]:
    return frozenset(names.split())


# S3 and Azure error codes, by the neutral error they mean
NOT_FOUND_CODES = _codes("NoSuchKey BlobNotFound NotFound")
BUCKET_CODES = _codes(
    "NoSuchBucket ContainerNotFound InvalidBucketName InvalidResourceName AccountNotFound"
)
REGION_CODES = _codes("PermanentRedirect AuthorizationHeaderMalformed IllegalLocationConstraint")
CREDENTIAL_CODES = _codes(
    "InvalidAccessKeyId SignatureDoesNotMatch ExpiredToken InvalidToken TokenRefreshRequired "
    "InvalidClientTokenId AuthenticationFailed InvalidAuthenticationInfo "
    "NoAuthenticationInformation"
)
DENIED_CODES = _codes(
    "AccessDenied AllAccessDisabled AccountIsDisabled AuthorizationFailure "
    "AuthorizationPermissionMismatch AuthorizationResourceTypeMismatch "
    "AuthorizationSourceIPMismatch InsufficientAccountPermissions"
)
KEY_CODES = _codes("KeyTooLongError InvalidURI InvalidUri InvalidBlobOrBlock")


def describe(exc: BaseException) -> tuple[str | None, int | None]:
    """The service's error code and HTTP status found in a library error, if any."""
    text = str(exc)
    code = _CODE.search(text)
    status = _STATUS.search(text)
    # azure-storage-blob's errors carry both as attributes
    sdk_code, sdk_status = getattr(exc, "error_code", None), getattr(exc, "status_code", None)
    return (
        code.group(1) if code else (str(sdk_code) if sdk_code else None),
        int(status.group(1)) if status else (sdk_status if isinstance(sdk_status, int) else None),
    )


def _info(key: str, meta: ObjectMeta, content_type: str | None = None) -> ObjectInfo:
    etag = (meta.get("e_tag") or "").strip('"') or None
    return ObjectInfo(key, int(meta["size"]), etag, content_type, meta.get("last_modified"))


class ObstoreAdapter(StorageAdapter, abc.ABC):
    """What S3 and Azure share: obstore calls, error mapping, listing by string prefix."""

    list_for_existence = True
    #: how long a finding about the bucket itself is trusted before asking again
    _PROBE_TTL = 10.0

    def __init__(self, *, tuning: Tuning, secrets: list[str]) -> None:
        self.tuning = tuning
        self.max_concurrency = tuning.max_concurrency
        self._secrets = [s for s in secrets if s]
        self._bucket_state: dict[str, tuple[float, StorageError | None]] = {}
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._ticket: Ticket | None = None

    def _client_options(self, *, allow_http: bool, egress: EgressPolicy | None) -> ClientConfig:
        """Client settings; a team-named endpoint is reached through the egress proxy only."""
        t = self.tuning
        options: ClientConfig = {
            "timeout": timedelta(seconds=t.timeout),
            "connect_timeout": timedelta(seconds=t.connect_timeout),
            "allow_http": allow_http,
        }
        if egress is not None:
            if self._ticket is None:
                from moorage.storage.egress_proxy import proxy_for

                self._ticket = proxy_for(egress).ticket()
            options["proxy_url"] = self._ticket.url
            options["proxy_excludes"] = ""  # never bypassed, whatever NO_PROXY says
        return options

    def close(self) -> None:
        if self._ticket is not None:
            self._ticket.release()

    def _retry_config(self) -> RetryConfig:
        backoff = {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=5)}
        return {
            "max_retries": self.tuning.max_retries,
            "retry_timeout": timedelta(seconds=self.tuning.retry_timeout),
            "backoff": {**backoff, "base": 2},  # type: ignore[typeddict-item]
        }

    # -- provider specifics ----------------------------------------------------------------
    @abc.abstractmethod
    def _target(self, key: str) -> tuple[ObjectStore, str, str]:
        """The store, the path inside it, and the bucket/container name for ``key``."""

    @abc.abstractmethod
    def _where(self, bucket: str) -> str:
        """How to name the bucket/container in messages."""

    # -- keys ------------------------------------------------------------------------------
    def check_key(self, key: str) -> str:
        validate_key(key)
        segments = key.split("/")
        if key.endswith("/"):
            raise InvalidKey(f"The storage key {key!r} ends with '/', a folder.", key=key)
        if "" in segments:
            raise InvalidKey(f"The storage key {key!r} has an empty segment ('//').", key=key)
        if "." in segments:
            raise InvalidKey(f"The storage key {key!r} has a '.' segment.", key=key)
        return key

    # -- error mapping ---------------------------------------------------------------------
    def _error(self, exc: Exception, *, action: str, key: str | None, bucket: str) -> StorageError:
        refused = self._ticket.last_refusal() if self._ticket is not None else None
        if refused is not None:
            from moorage.storage.egress import EndpointRefused

            return EndpointRefused(
                f"Could not {action} in {self._where(bucket)}: the server's network policy "
                f"refused the connection: {refused}.",
                key=key,
            )
        code, status = describe(exc)
        where = self._where(bucket)
        unreachable = self._ticket.last_unreachable() if self._ticket is not None else None
        if unreachable is not None and code is None and status in (None, 502):
            # the proxy could not reach the endpoint: say so, not the proxy's bare 502/403
            return StorageUnavailable(f"Could not {action} in {where}: {unreachable}.", key=key)
        subject = f"{action} {key!r} in {where}" if key is not None else f"{action} {where}"
        detail = f"HTTP {status}" if status else type(exc).__name__
        if code:
            detail = f"{detail} {code}"
        lowered = str(exc).lower()
        if code == "AuthorizationFailure" and "failed to authenticate" in lowered:
            code = "AuthenticationFailed"  # Azurite's name for a bad signature
        error: StorageError
        if code in BUCKET_CODES:
            error = BucketNotFound(f"{where} does not exist ({detail}).", key=key)
        elif code in REGION_CODES or status == 301:
            error = BucketNotFound(
                f"{where} is in another region than the one configured ({detail}); "
                "set the storage's region to the bucket's region.",
                key=key,
            )
        elif code in CREDENTIAL_CODES or isinstance(exc, UnauthenticatedError) or status == 401:
            error = InvalidCredentials(
                f"The credentials were rejected when trying to {subject} ({detail}).", key=key
            )
        elif code in DENIED_CODES or isinstance(exc, PermissionDeniedError | PermissionError):
            error = AccessDenied(f"Access denied to {subject} ({detail}).", key=key)
        elif code in NOT_FOUND_CODES or isinstance(exc, NotFoundError | FileNotFoundError):
            error = ObjectNotFound(f"No object at storage key {key!r} in {where}.", key=key)
        elif status == 403:
            error = AccessDenied(f"Access denied to {subject} ({detail}).", key=key)
        elif status == 404:
            error = ObjectNotFound(f"No object at storage key {key!r} in {where}.", key=key)
        elif key is None and isinstance(exc, ValueError | InvalidPathError):
            error = InvalidKey(
                f"An object under the listed prefix in {where} has a key with an empty or '.' "
                "segment (written by another tool), which moorage cannot list.",
            )
        elif code in KEY_CODES or isinstance(exc, ValueError | InvalidPathError):
            error = InvalidKey(
                f"The storage key {key!r} is not accepted by {where} ({detail}).", key=key
            )
        elif (status is not None and (status >= 500 or status == 429)) or any(
            word in lowered for word in _UNREACHABLE
        ):
            error = StorageUnavailable(
                f"The storage did not answer to {subject} ({detail}).", key=key
            )
        else:
            error = StorageError(f"Could not {subject} ({detail}).", key=key)
        error.message = redact(error.message, self._secrets)
        error.args = (error.message,)
        return error

    def _call(self, fn: Callable[[], T], *, action: str, key: str | None, bucket: str) -> T:
        try:
            return fn()
        except StorageError:
            raise
        except Exception as exc:
            code = describe(exc)[0]
            error = self._error(exc, action=action, key=key, bucket=bucket)
        if code is None and isinstance(error, ObjectNotFound | AccessDenied):
            # a HEAD answer has no body to tell a missing bucket or a bad key apart from a
            # missing object or a refusal: one listing of the bucket tells (cached)
            cause = self._bucket_problem(bucket)
            if cause is not None:
                error = type(cause)(cause.message, key=key)
        raise error

    def _bucket_problem(self, bucket: str) -> StorageError | None:
        """Why the bucket cannot be used at all (missing, bad credentials), or ``None``."""
        with self._lock:
            state = self._bucket_state.get(bucket)
        if state is not None and time.monotonic() - state[0] < self._PROBE_TTL:
            return state[1]
        with self._probe_lock:
            store = self._target_for_bucket(bucket)
            problem: StorageError | None = None
            try:
                next(iter(obstore.list(store, chunk_size=1)), None)
            except Exception as exc:
                found = self._error(exc, action="list", key=None, bucket=bucket)
                if isinstance(found, BucketNotFound | InvalidCredentials):
                    problem = found
            with self._lock:
                self._bucket_state[bucket] = (time.monotonic(), problem)
        return problem

    @abc.abstractmethod
    def _target_for_bucket(self, bucket: str) -> ObjectStore:
        """The store of one bucket/container."""

    # -- the interface ---------------------------------------------------------------------
    def head(self, key: str) -> ObjectInfo:
        self.check_key(key)
        store, path, bucket = self._target(key)
        result = self._call(
            lambda: obstore.get(store, path, options={"head": True}),
            action="read",
            key=key,
            bucket=bucket,
        )
        content_type = result.attributes.get("Content-Type")
        return _info(key, result.meta, str(content_type) if content_type else None)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        self.check_key(key)
        if end <= start:
            return b""
        store, path, bucket = self._target(key)

        def fetch() -> bytes:
            try:
                return bytes(obstore.get_range(store, path, start=start, end=end))
            except Exception as exc:
                # the range starts past the end of the object: S3 answers 416, and
                # object_store refuses Azure's answer itself (InvalidRangeRequest)
                if describe(exc)[1] == 416 or "InvalidRange" in str(exc):
                    return b""
                raise

        return self._call(fetch, action="read", key=key, bucket=bucket)

    def open_read(self, key: str) -> BinaryIO:
        self.check_key(key)
        store, path, bucket = self._target(key)
        result = self._call(lambda: obstore.get(store, path), action="read", key=key, bucket=bucket)
        chunks = (bytes(chunk) for chunk in result.stream(min_chunk_size=1 << 20))
        reader = ChunkReader(
            chunks,
            on_error=lambda exc: self._error(exc, action="read", key=key, bucket=bucket),
        )
        return open_chunks(reader)

    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        self.check_key(key)
        store, path, bucket = self._target(key)
        attributes = {"Content-Type": content_type} if content_type else None
        self._call(
            lambda: obstore.put(store, path, data, attributes=attributes),
            action="write",
            key=key,
            bucket=bucket,
        )

    def delete(self, key: str) -> None:
        self.check_key(key)
        store, path, bucket = self._target(key)
        with contextlib.suppress(ObjectNotFound):
            self._call(lambda: obstore.delete(store, path), action="delete", key=key, bucket=bucket)

    def _list(
        self,
        store: ObjectStore,
        *,
        bucket: str,
        outer: str,
        inner: str,
        cursor: str | None,
        limit: int,
    ) -> ListPage:
        """One page of keys starting with ``inner`` (a string prefix inside ``store``).

        object_store lists whole path segments, so this lists the enclosing folder from just
        before ``inner`` and stops at the first key past it. Keys get ``outer`` prepended.
        """
        folder, _, fragment = inner.rpartition("/")
        offset = cursor
        below = chr(ord(fragment[-1]) - 1) if fragment else ""
        if offset is None and below > " " and below != "/":
            # start just below every key that starts with ``inner``; ("0" - 1 is "/", and
            # control characters are percent-encoded by object_store: list from the top then)
            offset = inner[:-1] + below + "\U0010ffff"
        objects: list[ObjectInfo] = []

        def collect() -> bool:
            stream = obstore.list(store, prefix=folder or None, offset=offset, chunk_size=limit)
            for chunk in stream:
                for meta in chunk:
                    path = meta["path"]
                    if cursor is not None and path <= cursor:
                        continue  # stores that ignore the offset (Azurite) restart at the top
                    if not path.startswith(inner):
                        if path > inner:
                            return False
                        continue
                    objects.append(_info(outer + path, meta))
                    if len(objects) >= limit:
                        return True
            return False

        more = self._call(collect, action="list", key=None, bucket=bucket)
        next_cursor = objects[-1].key[len(outer) :] if more and objects else None
        return ListPage(objects=objects, next_cursor=next_cursor)
