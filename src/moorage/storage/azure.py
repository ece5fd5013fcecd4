"""Azure Blob Storage through obstore; SAS URLs through azure-storage-blob.

The storage's ``bucket`` is the storage ACCOUNT; every key starts with its container
(``mycontainer/folder/image.jpg``), as in the Darwin contract. One obstore store per container
is made on first use.

SAS URLs come from ``azure.storage.blob.generate_blob_sas``: obstore signs the percent-encoded
path, which Azure (and Azurite) reject for names with spaces, unicode, ``#``, ``?`` or ``%``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from obstore.store import AzureStore

from moorage.storage._obstore import ObstoreAdapter
from moorage.storage.base import InvalidCredentials, InvalidKey, ListPage, ObjectInfo, Tuning
from moorage.storage.egress import EgressPolicy, EndpointRefused

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient
    from obstore.store import AzureCredential, ObjectStore

__all__ = ["AzureStorage", "azure_endpoint", "parse_connection_string"]

_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER = re.compile(r"^(?:\$root|\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$")


def parse_connection_string(text: str) -> dict[str, str]:
    """``AccountName=...;AccountKey=...`` into a dict (values may contain ``=``)."""
    parts: dict[str, str] = {}
    for item in text.strip().split(";"):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            parts[name.strip()] = value.strip()
    return parts


def azure_endpoint(account: str, endpoint_url: str | None, conn: Mapping[str, str]) -> str:
    """The blob endpoint: the storage's ``endpoint_url``, the connection string's
    ``BlobEndpoint``, or Azure's own for a checked account name (``*.blob.core.windows.net``)."""
    endpoint = endpoint_url or conn.get("BlobEndpoint")
    if not endpoint:
        if not _ACCOUNT.match(account):
            raise EndpointRefused(
                f"The Azure account {account!r} is not an account name (3-24 lowercase letters "
                "and digits).",
                field="bucket",
            )
        protocol = conn.get("DefaultEndpointsProtocol", "https")
        suffix = conn.get("EndpointSuffix", "core.windows.net")
        endpoint = f"{protocol}://{account}.blob.{suffix}"
    return endpoint.rstrip("/")


def is_azure_default(endpoint: str, account: str) -> bool:
    return endpoint == f"https://{account}.blob.core.windows.net" and bool(_ACCOUNT.match(account))


class AzureStorage(ObstoreAdapter):
    provider = "azure"

    def __init__(
        self,
        account: str,
        *,
        endpoint_url: str | None = None,
        credentials: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
        egress: EgressPolicy | None = None,
        ambient: bool = False,
    ) -> None:
        creds = dict(credentials or {})
        if not creds and ambient and os.environ.get("AZURE_STORAGE_CONNECTION_STRING"):
            creds = {"connection_string": os.environ["AZURE_STORAGE_CONNECTION_STRING"]}
        conn = parse_connection_string(creds.get("connection_string", ""))
        account_key = creds.get("account_key") or conn.get("AccountKey")
        sas_token = (creds.get("sas_token") or conn.get("SharedAccessSignature") or "").lstrip("?")
        super().__init__(
            tuning=Tuning.from_options(options or {}),
            secrets=[
                account_key or "",
                sas_token,
                creds.get("connection_string", ""),
                creds.get("client_secret", ""),
            ],
        )
        self.account = conn.get("AccountName") or account
        if not self.account:
            raise InvalidCredentials("An Azure storage needs its account name as the bucket.")
        self.endpoint = azure_endpoint(self.account, endpoint_url, conn)
        # a team-named endpoint (endpoint_url, BlobEndpoint, EndpointSuffix) goes by the proxy
        self._egress = None if is_azure_default(self.endpoint, self.account) else egress
        # for SAS URLs; without an account key the server streams objects instead
        self._sign_key = account_key or (
            (os.environ.get("AZURE_STORAGE_ACCOUNT_KEY") or os.environ.get("AZURE_STORAGE_KEY"))
            if ambient
            else None
        )
        # explicit, so that AZURE_* variables (emulator, keys, identity) cannot apply
        self._config: dict[str, Any] = {
            "account_name": self.account,
            "endpoint": self.endpoint,
            "use_emulator": False,
        }
        self._credential: AzureCredential | None = None
        # azure-storage-blob lists with continuation markers (object_store pages by
        # ``startFrom``, which Azurite ignores); other credentials list through obstore
        self._sdk_credential: dict[str, str] | str | None = None
        if account_key:
            self._credential = {"access_key": account_key, "expires_at": None}
            self._sdk_credential = {"account_name": self.account, "account_key": account_key}
        elif sas_token:
            self._credential = {"sas_token": sas_token, "expires_at": None}
            self._sdk_credential = sas_token
        elif creds.get("client_secret"):
            # service principal: obstore fetches and renews the tokens itself
            self._config.update(
                client_id=creds.get("client_id", ""),
                client_secret=creds["client_secret"],
                tenant_id=creds.get("tenant_id", ""),
            )
        elif not ambient:
            self._config["skip_signature"] = True  # anonymous: never the machine's identity
        self._stores: dict[str, AzureStore] = {}
        self._containers: dict[str, ContainerClient] = {}
        self._stores_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AzureStorage(account={self.account!r}, endpoint={self.endpoint!r})"

    # -- containers ------------------------------------------------------------------------
    def _container_store(self, container: str) -> AzureStore:
        with self._stores_lock:
            store = self._stores.get(container)
            if store is None:
                credential = self._credential
                store = AzureStore(
                    container,
                    config=self._config,  # type: ignore[arg-type]
                    client_options=self._client_options(
                        allow_http=self.endpoint.startswith("http://"), egress=self._egress
                    ),
                    retry_config=self._retry_config(),
                    credential_provider=(lambda: credential) if credential else None,
                )
                self._stores[container] = store
            return store

    def _split(self, key: str) -> tuple[str, str]:
        container, sep, blob = key.partition("/")
        if not sep or not blob:
            raise InvalidKey(
                f"The Azure storage key {key!r} must start with its container: "
                "'container/path/to/blob'.",
                key=key,
            )
        if not _CONTAINER.match(container):
            raise InvalidKey(
                f"The Azure storage key {key!r} starts with {container!r}, which is not a valid "
                "container name (3-63 lowercase letters, digits and single hyphens).",
                key=key,
            )
        return container, blob

    def check_key(self, key: str) -> str:
        super().check_key(key)
        self._split(key)
        return key

    def _target(self, key: str) -> tuple[ObjectStore, str, str]:
        container, blob = self._split(key)
        return self._container_store(container), blob, container

    def _target_for_bucket(self, bucket: str) -> ObjectStore:
        return self._container_store(bucket)

    def _where(self, bucket: str) -> str:
        return f"container {bucket!r} of account {self.account!r}"

    # -- listing and signing ---------------------------------------------------------------
    def list_page(self, prefix: str, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        """Keys starting with ``prefix``, whose first segment must be a whole container name."""
        container, _, inner = prefix.partition("/")
        if not container:
            raise InvalidKey("An Azure listing prefix must start with a container name.")
        self._split(f"{container}/x")
        if self._sdk_credential is not None:
            return self._sdk_list(container, inner, cursor=cursor, limit=limit)
        if inner.rstrip("/"):
            super().check_key(inner.rstrip("/"))
        return self._list(
            self._container_store(container),
            bucket=container,
            outer=f"{container}/",
            inner=inner,
            cursor=cursor,
            limit=limit,
        )

    def _sdk_list(self, container: str, inner: str, *, cursor: str | None, limit: int) -> ListPage:
        with self._stores_lock:
            client = self._containers.get(container)
            if client is None:
                from azure.storage.blob import ContainerClient, LinearRetry

                proxies = self._client_options(allow_http=True, egress=self._egress).get(
                    "proxy_url"
                )
                client = ContainerClient(
                    self.endpoint,
                    container,
                    credential=self._sdk_credential,
                    connection_timeout=self.tuning.connect_timeout,
                    read_timeout=self.tuning.timeout,
                    # the SDK's default waits 15 s and more between tries: keep calls bounded
                    retry_policy=LinearRetry(
                        backoff=1, random_jitter_range=0, retry_total=self.tuning.max_retries
                    ),
                    proxies={"http": proxies, "https": proxies} if proxies else None,
                    # no HTTP(S)_PROXY / NO_PROXY from the environment: they could bypass it
                    use_env_settings=False,
                )
                self._containers[container] = client

        def fetch() -> ListPage:
            pages = client.list_blobs(name_starts_with=inner or None, results_per_page=limit)
            pager = pages.by_page(continuation_token=cursor)
            objects = [
                ObjectInfo(
                    key=f"{container}/{blob.name}",
                    size=int(blob.size),
                    etag=(blob.etag or "").strip('"') or None,
                    content_type=blob.content_settings.content_type,
                    last_modified=blob.last_modified,
                )
                for blob in next(pager, [])
            ]
            token = getattr(pager, "continuation_token", None)
            return ListPage(objects=objects, next_cursor=str(token) if token else None)

        return self._call(fetch, action="list", key=None, bucket=container)

    def sign_url(self, key: str, *, expires_in: int) -> str | None:
        self.check_key(key)
        if not self._sign_key:
            return None
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        container, blob = self._split(key)
        token = generate_blob_sas(
            self.account,
            container,
            blob,
            account_key=self._sign_key,
            permission=BlobSasPermissions(read=True),
            expiry=datetime.now(UTC) + timedelta(seconds=expires_in),
        )
        return f"{self.endpoint}/{container}/{quote(blob, safe='/')}?{token}"
