"""Build the adapter a storage configuration describes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moorage.storage.base import StorageAdapter, StorageError
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
    local_roots: tuple[Path, ...] = ()


def build_adapter(spec: StorageSpec) -> StorageAdapter:
    if spec.provider == "local":
        return LocalStorage(resolve_local_bucket(spec.bucket, list(spec.local_roots)))
    raise StorageError(f"Storage provider {spec.provider!r} is not supported yet.")
