"""What a running moorage holds: settings, database, secrets, storage adapters, job dispatch."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from moorage.config import Settings
from moorage.db import Database
from moorage.folders.service import folder_service
from moorage.ops.ratelimit import RateLimiter, build_limiter
from moorage.security import SecretBox
from moorage.storage.base import StorageAdapter
from moorage.storage.egress import EgressPolicy
from moorage.storage.factory import StorageSpec, build_adapter, check_endpoints

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from moorage.models import StorageConfig

__all__ = ["AppContext", "StorageRegistry"]


class StorageRegistry:
    """Adapters built once per storage configuration and reused (connection pools).

    A ``local`` adapter is built afresh on every call instead (it holds no pool): its folder is
    checked against the team's folders as they are now, so a revoked grant or a symlink swapped
    after the storage was created is refused at once, by every process.
    """

    def __init__(self, settings: Settings, secrets: SecretBox) -> None:
        self._settings = settings
        self._secrets = secrets
        #: what team-named endpoints may resolve to (MOORAGE_ALLOWED_ENDPOINTS)
        self.egress = EgressPolicy.parse(settings.allowed_endpoints)
        self._cache: dict[tuple[int, str], StorageAdapter] = {}
        self._lock = threading.Lock()

    def spec_for(self, session: Session, storage: StorageConfig) -> StorageSpec:
        credentials = (
            self._secrets.decrypt(storage.credentials_encrypted)
            if storage.credentials_encrypted
            else {}
        )
        return StorageSpec(
            provider=storage.provider,
            bucket=storage.bucket,
            region=storage.region,
            endpoint_url=storage.endpoint_url,
            options=dict(storage.options or {}),
            credentials=credentials,
            local_roots=tuple(self._local_folders(session, storage)),
            egress=self.egress,
            allow_ambient_credentials=storage.allow_ambient_credentials,
            events=dict(storage.events) if storage.events else None,
        )

    def _local_folders(self, session: Session, storage: StorageConfig) -> list[Path]:
        if storage.provider != "local":
            return []
        roots = self._settings.resolved_local_roots
        return folder_service.allowed(session, storage.team_id, roots=roots)

    def check_endpoints(self, session: Session, storage: StorageConfig) -> None:
        """Raise ``EndpointRefused`` for an endpoint of ``storage`` the policy forbids."""
        check_endpoints(self.spec_for(session, storage))

    def adapter_for(self, session: Session, storage: StorageConfig) -> StorageAdapter:
        if storage.provider == "local":
            return build_adapter(self.spec_for(session, storage))
        key = (storage.id, storage.updated_at.isoformat())
        with self._lock:
            adapter = self._cache.get(key)
            if adapter is None:
                for old in [k for k in self._cache if k[0] == storage.id]:
                    self._cache.pop(old).close()
                adapter = build_adapter(self.spec_for(session, storage))
                self._cache[key] = adapter
            return adapter

    def close(self) -> None:
        with self._lock:
            for adapter in self._cache.values():
                adapter.close()
            self._cache.clear()


@dataclass
class AppContext:
    settings: Settings
    db: Database
    secrets: SecretBox
    storages: StorageRegistry = field(init=False)
    limiter: RateLimiter | None = field(init=False)

    def __post_init__(self) -> None:
        self.storages = StorageRegistry(self.settings, self.secrets)
        self.limiter = build_limiter(
            self.settings.rate_limit, self.settings.rate_limit_url, self.db.engine
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        for root in settings.resolved_local_roots:
            root.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url),
            secrets=SecretBox.from_settings(settings.secret_key, settings.data_dir),
        )

    def close(self) -> None:
        self.storages.close()
        self.db.dispose()
