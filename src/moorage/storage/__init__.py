"""Storage adapters behind one interface (see ``base.StorageAdapter``)."""

from moorage.storage.base import (
    AccessDenied,
    BucketNotFound,
    InvalidCredentials,
    InvalidKey,
    ListPage,
    ObjectInfo,
    ObjectNotFound,
    StorageAdapter,
    StorageError,
    StorageUnavailable,
    join_key,
    validate_key,
)

__all__ = [
    "AccessDenied",
    "BucketNotFound",
    "InvalidCredentials",
    "InvalidKey",
    "ListPage",
    "ObjectInfo",
    "ObjectNotFound",
    "StorageAdapter",
    "StorageError",
    "StorageUnavailable",
    "join_key",
    "validate_key",
]
