"""Build the adapter a storage configuration describes."""

from __future__ import annotations

from moorage.storage.base import BucketNotFound, StorageAdapter, StorageError
from moorage.storage.egress import EgressPolicy, EndpointRefused
from moorage.storage.local import LocalStorage, resolve_local_bucket
from moorage.storage.spec import StorageSpec

__all__ = ["PROVIDERS", "StorageSpec", "build_adapter", "check_endpoints"]

PROVIDERS = ("local", "aws", "minio", "azure", "gcp")


def check_endpoints(spec: StorageSpec) -> None:
    """Refuse, before anything is contacted, every endpoint ``spec`` names that the policy
    forbids: ``endpoint_url``, an Azure connection string's ``BlobEndpoint``/``EndpointSuffix``,
    a GCS key's ``token_uri``, the event queue's URL; and names that would steer a provider's
    own host name.

    Raises ``EndpointRefused`` whose ``field`` names the storage field at fault.
    """
    policy = spec.egress or EgressPolicy()
    if spec.events:
        from moorage.storage.events_sqs import check_events

        check_events(spec)
    if spec.endpoint_url:
        policy.check_url(spec.endpoint_url)
    if spec.provider in ("aws", "minio"):
        from moorage.storage.s3 import check_region, default_s3_endpoint

        check_region(spec.region)
        if not spec.endpoint_url:
            default_s3_endpoint(spec.bucket, spec.region, path_style=False)
    elif spec.provider == "azure":
        from moorage.storage.azure import azure_endpoint, is_azure_default, parse_connection_string

        conn = parse_connection_string(spec.credentials.get("connection_string", ""))
        account = conn.get("AccountName") or spec.options.get("account") or spec.bucket
        endpoint = azure_endpoint(str(account), spec.endpoint_url, conn)
        if not spec.endpoint_url and not is_azure_default(endpoint, str(account)):
            _check_credential_url(policy, endpoint, "The connection string's blob endpoint")
    elif spec.provider == "gcp":
        from moorage.storage.gcs import DEFAULT_TOKEN_URI, token_uri_of

        uri = token_uri_of(spec.credentials.get("service_account_json", ""))
        if uri and uri != DEFAULT_TOKEN_URI:
            _check_credential_url(policy, uri, "The service account's token_uri")


def _check_credential_url(policy: EgressPolicy, url: str, what: str) -> None:
    """A URL named inside credentials obeys the policy; a refusal names ``credentials``."""
    try:
        policy.check_url(url)
    except EndpointRefused as exc:
        raise EndpointRefused(f"{what} is refused: {exc.message}", field="credentials") from None


#: the providers whose adapter may sign PUT URLs (``StorageAdapter.sign_put``; GCS only with a
#: key to sign with); the others' uploads go through the server. Not Azure: its Put Blob needs an
#: ``x-ms-blob-type`` header that darwin-py's raw PUT does not send (decisions/0039)
SIGNS_PUTS = frozenset({"aws", "minio", "gcp"})


def signs_puts(provider: str) -> bool:
    """Whether ``provider``'s adapter hands out PUT URLs: when not, no adapter need be built to
    know that a client's bytes come to the server."""
    return provider in SIGNS_PUTS


def build_adapter(spec: StorageSpec) -> StorageAdapter:
    """The adapter for ``spec``. Cloud clients are imported only when a provider needs them.

    Credentials come from ``spec.credentials``. Without them a storage is anonymous, unless
    ``spec.allow_ambient_credentials``: then each cloud's environment variables and default
    chains apply (docs/storage.md, docs/network.md).
    """
    if spec.provider == "local":
        return LocalStorage(resolve_local_bucket(spec.bucket, list(spec.local_roots)))
    if not spec.bucket:
        raise BucketNotFound(f"A {spec.provider} storage needs a bucket.")
    if spec.provider in ("aws", "minio"):
        from moorage.storage.s3 import S3Storage

        if spec.provider == "minio" and not spec.endpoint_url:
            raise StorageError("A minio (S3-compatible) storage needs an endpoint_url.")
        return S3Storage(
            spec.bucket,
            region=spec.region,
            endpoint_url=spec.endpoint_url,
            credentials=spec.credentials,
            options=spec.options,
            provider=spec.provider,
            egress=spec.egress,
            ambient=spec.allow_ambient_credentials,
        )
    if spec.provider == "azure":
        from moorage.storage.azure import AzureStorage

        return AzureStorage(
            spec.options.get("account") or spec.bucket,
            endpoint_url=spec.endpoint_url,
            credentials=spec.credentials,
            options=spec.options,
            egress=spec.egress,
            ambient=spec.allow_ambient_credentials,
        )
    if spec.provider == "gcp":
        from moorage.storage.gcs import GCSStorage

        return GCSStorage(
            spec.bucket,
            endpoint_url=spec.endpoint_url,
            credentials=spec.credentials,
            options=spec.options,
            egress=spec.egress,
            ambient=spec.allow_ambient_credentials,
        )
    raise StorageError(
        f"Storage provider {spec.provider!r} is not supported; use one of {', '.join(PROVIDERS)}."
    )
