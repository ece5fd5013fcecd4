"""Build the adapter a storage configuration describes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moorage.storage.base import BucketNotFound, StorageAdapter, StorageError
from moorage.storage.local import LocalStorage, resolve_local_bucket

__all__ = ["PROVIDERS", "StorageSpec", "build_adapter"]

PROVIDERS = ("local", "aws", "minio", "azure", "gcp")


@dataclass(frozen=True)
class StorageSpec:
    """Everything needed to reach one bucket. ``credentials`` holds decrypted secrets."""

    provider: str
    bucket: str
    region: str | None = None
    endpoint_url: str | None = None
    #: provider options that are not secret (e.g. Azure ``account``, S3 ``path_style``)
    options: dict[str, Any] = field(default_factory=dict)
    #: secret values (access keys, connection strings, service-account JSON); never logged
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    #: ``local`` only: the resolved folders the bucket may resolve into, a relative bucket under
    #: the first (for a team's storage: its ``<root>/<team-slug>`` areas, then its grants)
    local_roots: tuple[Path, ...] = ()


def build_adapter(spec: StorageSpec) -> StorageAdapter:
    """The adapter for ``spec``. Cloud clients are imported only when a provider needs them.

    Credentials come from ``spec.credentials`` when given, otherwise from each cloud's standard
    environment variables and default chains (see docs/storage.md for the keys read).
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
        )
    if spec.provider == "azure":
        from moorage.storage.azure import AzureStorage

        return AzureStorage(
            spec.options.get("account") or spec.bucket,
            endpoint_url=spec.endpoint_url,
            credentials=spec.credentials,
            options=spec.options,
        )
    if spec.provider == "gcp":
        from moorage.storage.gcs import GCSStorage

        return GCSStorage(
            spec.bucket,
            endpoint_url=spec.endpoint_url,
            credentials=spec.credentials,
            options=spec.options,
        )
    raise StorageError(
        f"Storage provider {spec.provider!r} is not supported; use one of {', '.join(PROVIDERS)}."
    )
