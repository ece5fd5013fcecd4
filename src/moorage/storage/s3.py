"""S3 and S3-compatible stores (MinIO, Ceph, Wasabi, R2) through obstore.

Keys exclude the bucket. The obstore plumbing shared with Azure is in ``_obstore``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import obstore

from moorage.storage.base import (
    InvalidCredentials,
    ListPage,
    Tuning,
)
from moorage.storage.egress import EgressPolicy, EndpointRefused

if TYPE_CHECKING:
    from obstore.store import ObjectStore, S3Credential

from moorage.storage._obstore import ObstoreAdapter

__all__ = ["ObstoreAdapter", "S3Storage", "check_region", "default_s3_endpoint"]

# region and bucket become part of the AWS host name: nothing else may get in there
_REGION = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
_BUCKET = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{1,61})[a-z0-9]$")


def check_region(region: str | None) -> str:
    region = region or "us-east-1"
    if not _REGION.match(region):
        raise EndpointRefused(
            f"The region {region!r} is not a region name (lowercase letters, digits, '-').",
            field="region",
        )
    return region


def default_s3_endpoint(bucket: str, region: str | None, *, path_style: bool) -> str:
    """AWS's own endpoint for ``bucket``; the names are checked so they cannot steer it."""
    region = check_region(region)
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise EndpointRefused(
            f"The bucket {bucket!r} is not an S3 bucket name (3-63 lowercase letters, digits, "
            "'.' and '-').",
            field="bucket",
        )
    if path_style:
        return f"https://s3.{region}.amazonaws.com"
    return f"https://{bucket}.s3.{region}.amazonaws.com"


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
        egress: EgressPolicy | None = None,
        ambient: bool = False,
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
        path_style = bool(options.get("path_style", endpoint_url is not None))
        # every setting that decides where requests go or how they are signed is explicit:
        # obstore would otherwise fill it from AWS_* variables (AWS_ENDPOINT_URL...)
        config: dict[str, Any] = {
            "region": check_region(region),
            "virtual_hosted_style_request": not path_style,
            "imdsv1_fallback": False,
        }
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
        if endpoint_url:
            config["endpoint"] = endpoint_url.rstrip("/")
        else:
            config["endpoint"] = default_s3_endpoint(bucket, region, path_style=path_style)
        # no credentials of its own: anonymous, unless the operator lent the server's own
        config["skip_signature"] = bool(options.get("anonymous")) or (
            provider_fn is None and not ambient
        )
        from obstore.store import S3Store

        allow_http = bool(endpoint_url and endpoint_url.startswith("http://"))
        self._store = S3Store(
            bucket,
            config=config,  # type: ignore[arg-type]
            client_options=self._client_options(
                allow_http=allow_http, egress=egress if endpoint_url else None
            ),
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

    def sign_put(self, key: str, *, expires_in: int) -> str | None:
        """A presigned PUT: the client sends the bytes straight to the bucket."""
        self.check_key(key)
        return self._call(
            lambda: obstore.sign(self._store, "PUT", key, timedelta(seconds=expires_in)),
            action="sign",
            key=key,
            bucket=self.bucket,
        )
