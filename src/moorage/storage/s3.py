"""S3 and S3-compatible stores (MinIO, Ceph, Wasabi, R2) through obstore.

Keys exclude the bucket. The obstore plumbing shared with Azure is in ``_obstore``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import obstore

from moorage.storage.base import (
    InvalidCredentials,
    ListPage,
    Tuning,
)

if TYPE_CHECKING:
    from obstore.store import ObjectStore, S3Credential

from moorage.storage._obstore import ObstoreAdapter

__all__ = ["ObstoreAdapter", "S3Storage"]


class S3Storage(ObstoreAdapter):
    """An S3 bucket. ``endpoint_url`` selects an S3-compatible store (path-style by default)."""

    provider = "aws"

    def __init__(
        self,
        bucket: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        credentials: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
        provider: str = "aws",
    ) -> None:
        options = dict(options or {})
        creds = dict(credentials or {})
        access_key = creds.get("access_key_id") or creds.get("aws_access_key_id")
        secret_key = creds.get("secret_access_key") or creds.get("aws_secret_access_key")
        token = creds.get("session_token") or creds.get("aws_session_token")
        super().__init__(
            tuning=Tuning.from_options(options), secrets=[secret_key or "", token or ""]
        )
        self.provider = provider
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        config: dict[str, Any] = {}
        if region or endpoint_url:
            # S3-compatible stores still need a region to sign with
            config["region"] = region or "us-east-1"
        if endpoint_url:
            config["endpoint"] = endpoint_url.rstrip("/")
        path_style = bool(options.get("path_style", endpoint_url is not None))
        config["virtual_hosted_style_request"] = not path_style
        if options.get("anonymous"):
            config["skip_signature"] = True
        provider_fn = None
        if access_key and secret_key:
            credential: S3Credential = {
                "access_key_id": access_key,
                "secret_access_key": secret_key,
                "token": token,
                "expires_at": None,
            }
            # a provider, not config: keeps the secret out of ``store.config`` and stops
            # obstore from mixing in a session token from the environment
            provider_fn = lambda: credential  # noqa: E731
        elif access_key or secret_key:
            raise InvalidCredentials(
                "S3 credentials need both access_key_id and secret_access_key."
            )
        from obstore.store import S3Store

        allow_http = bool(endpoint_url and endpoint_url.startswith("http://"))
        self._store = S3Store(
            bucket,
            config=config,  # type: ignore[arg-type]
            client_options=self._client_options(allow_http=allow_http),
            retry_config=self._retry_config(),
            credential_provider=provider_fn,
        )

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    def _target(self, key: str) -> tuple[ObjectStore, str, str]:
        return self._store, key, self.bucket

    def _target_for_bucket(self, bucket: str) -> ObjectStore:
        return self._store

    def _where(self, bucket: str) -> str:
        return f"bucket {bucket!r}"

    def list_page(self, prefix: str, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        if prefix.rstrip("/"):  # a prefix may end with "/"; no empty or dot segments inside
            self.check_key(prefix.rstrip("/"))
        return self._list(
            self._store, bucket=self.bucket, outer="", inner=prefix, cursor=cursor, limit=limit
        )

    def sign_url(self, key: str, *, expires_in: int) -> str | None:
        self.check_key(key)
        return self._call(
            lambda: obstore.sign(self._store, "GET", key, timedelta(seconds=expires_in)),
            action="sign",
            key=key,
            bucket=self.bucket,
        )
