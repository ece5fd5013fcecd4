from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, object_session

from moorage.context import StorageRegistry
from moorage.errors import Conflict, NotFound, ValidationFailed
from moorage.kit.text import slugify
from moorage.kit.timestamps import rfc3339
from moorage.models import StorageConfig, Team
from moorage.ops import metrics
from moorage.security import SecretBox
from moorage.storage.base import StorageError
from moorage.storage.check import Permission, PermissionCheck, check_permissions
from moorage.storage.egress import EndpointRefused
from moorage.storage.factory import PROVIDERS, StorageSpec
from moorage.storage.local import resolve_local_bucket
from moorage.storages.repository import storage_repository
from moorage.storages.schemas import StorageCreate, StorageUpdate


def storage_json(storage: StorageConfig) -> dict[str, Any]:
    """The darwin-py shape plus moorage's own fields; secrets never leave the server."""
    return {
        "id": storage.id,
        "name": storage.name,
        "slug": storage.slug,
        "provider": storage.provider,
        "bucket": storage.bucket,
        "prefix": storage.prefix,
        "readonly": storage.readonly,
        "default": storage.is_default,
        "region": storage.region,
        "endpoint_url": storage.endpoint_url,
        "options": storage.options,
        "has_credentials": storage.credentials_encrypted is not None,
        # granted by the operator only (moorage admin allow-ambient-credentials)
        "ambient_credentials": storage.allow_ambient_credentials,
        "events": storage.events,
        "derivatives_storage": _derivatives_slug(storage),
        "created_at": rfc3339(storage.created_at),
        "updated_at": rfc3339(storage.updated_at),
    }


def _derivatives_slug(storage: StorageConfig) -> str | None:
    session = object_session(storage)
    if storage.derivatives_storage_id is None or session is None:
        return None
    target = storage_repository.get_by_id(session, storage.team_id, storage.derivatives_storage_id)
    return target.slug if target is not None else None


class StorageService:
    def list_all(self, session: Session, team: Team) -> list[dict[str, Any]]:
        return [storage_json(s) for s in storage_repository.list_all(session, team)]

    def get(self, session: Session, team: Team, slug: str) -> StorageConfig:
        storage = storage_repository.get_by_slug(session, team, slug)
        if storage is None:
            raise NotFound(f"Storage {slug!r} does not exist in team {team.slug!r}.", field="slug")
        return storage

    def for_registration(self, session: Session, team: Team, slug: str | None) -> StorageConfig:
        storage = (
            storage_repository.find_for_registration(session, team, slug)
            if slug
            else storage_repository.get_default(session, team)
        )
        if storage is None:
            what = f"Storage {slug!r} does not exist" if slug else "There is no default storage"
            raise NotFound(f"{what} in team {team.slug!r}.", field="storage_slug")
        return storage

    def create(
        self,
        session: Session,
        team: Team,
        *,
        payload: StorageCreate,
        secrets: SecretBox,
        registry: StorageRegistry,
    ) -> StorageConfig:
        slug = slugify(payload.slug or payload.name)
        if not slug:
            raise ValidationFailed("must contain a letter or a digit", field="slug")
        if storage_repository.get_by_slug(session, team, slug) is not None:
            raise ValidationFailed("has already been taken", field="slug")
        self._check_provider(payload.provider)
        first = not storage_repository.list_all(session, team)
        if payload.default:
            storage_repository.clear_default(session, team)
        storage = StorageConfig(
            team_id=team.id,
            name=payload.name,
            slug=slug,
            provider=payload.provider,
            bucket=payload.bucket,
            prefix=payload.prefix.strip("/"),
            readonly=payload.readonly,
            is_default=payload.default or first,
            region=payload.region,
            endpoint_url=payload.endpoint_url,
            options=payload.options,
            credentials_encrypted=secrets.encrypt(payload.credentials)
            if payload.credentials
            else None,
            events=payload.events.model_dump(exclude_none=True) if payload.events else None,
        )
        storage.derivatives_storage_id = self._derivatives_id(
            session, team, storage, payload.derivatives_storage
        )
        self._check_derivatives(session, storage)
        self._check_location(session, storage, registry)
        session.add(storage)
        session.flush()
        return storage

    def update(
        self,
        session: Session,
        team: Team,
        slug: str,
        *,
        payload: StorageUpdate,
        secrets: SecretBox,
        registry: StorageRegistry,
    ) -> StorageConfig:
        storage = self.get(session, team, slug)
        changes = payload.model_dump(exclude_unset=True)
        if changes.pop("default", None):
            storage_repository.clear_default(session, team)
            storage.is_default = True
        if "credentials" in changes:
            creds = changes.pop("credentials")
            storage.credentials_encrypted = secrets.encrypt(creds) if creds else None
        if "prefix" in changes and changes["prefix"] is not None:
            changes["prefix"] = changes["prefix"].strip("/")
        if "derivatives_storage" in changes:
            slug_of = changes.pop("derivatives_storage")
            storage.derivatives_storage_id = self._derivatives_id(session, team, storage, slug_of)
        if changes.get("events") is not None:
            changes["events"] = {k: v for k, v in changes["events"].items() if v is not None}
        for field, value in changes.items():
            if value is not None or field in ("region", "endpoint_url", "events"):
                setattr(storage, field, value)
        self._check_derivatives(session, storage)
        self._check_location(session, storage, registry)
        session.flush()
        return storage

    def check(
        self, session: Session, team: Team, slug: str, *, registry: StorageRegistry
    ) -> dict[str, Any]:
        """Can moorage list, read (and for read-write, write and delete) under the prefix?"""
        storage = self.get(session, team, slug)
        try:
            adapter = registry.adapter_for(session, storage)
            checks = check_permissions(adapter, prefix=storage.prefix, readonly=storage.readonly)
        except StorageError as exc:
            metrics.storage_error(storage.provider, exc.reason)
            wanted: list[Permission] = (
                ["list", "read"] if storage.readonly else ["list", "write", "read", "delete"]
            )
            checks = [
                PermissionCheck(p, ok=False, reason=exc.reason, message=exc.message) for p in wanted
            ]
        return {
            "storage": storage.slug,
            "ok": all(c.ok for c in checks),
            "checks": [
                {"permission": c.permission, "ok": c.ok, "reason": c.reason, "message": c.message}
                for c in checks
            ],
        }

    def set_ambient_credentials(
        self, session: Session, team: Team, slug: str, *, allowed: bool
    ) -> StorageConfig:
        """The operator's grant (CLI only): may this storage use the server's own credentials?"""
        storage = self.get(session, team, slug)
        storage.allow_ambient_credentials = allowed
        session.flush()
        return storage

    def delete(self, session: Session, team: Team, slug: str) -> None:
        storage = self.get(session, team, slug)
        if storage_repository.in_use(session, storage):
            raise Conflict(
                f"Storage {slug!r} still holds registered items; delete them first.", field="slug"
            )
        users = storage_repository.naming_as_derivatives(session, storage)
        if users:
            raise Conflict(
                f"Storage {slug!r} is the derivatives_storage of {', '.join(map(repr, users))}; "
                "point those elsewhere first.",
                field="slug",
            )
        storage_repository.forget_sync_keys(session, storage)
        session.delete(storage)
        session.flush()

    @staticmethod
    def _derivatives_id(
        session: Session, team: Team, storage: StorageConfig, slug: str | None
    ) -> int | None:
        """The id of the storage ``slug`` names as ``derivatives_storage``: the team's own only."""
        if slug is None:
            return None
        target = storage_repository.get_by_slug(session, team, slug)
        if target is None:
            raise NotFound(
                f"Storage {slug!r} does not exist in team {team.slug!r}.",
                field="derivatives_storage",
            )
        if target.id is not None and target.id == storage.id:
            raise ValidationFailed(
                "must name another storage: a read-only storage cannot hold its own derivatives",
                field="derivatives_storage",
            )
        if target.readonly:
            raise ValidationFailed(
                f"Storage {slug!r} is read-only; the workers must be able to write there.",
                field="derivatives_storage",
            )
        return target.id

    @staticmethod
    def _check_derivatives(session: Session, storage: StorageConfig) -> None:
        """After an update: the link still joins a read-only storage to a read-write one."""
        if storage.derivatives_storage_id is not None and not storage.readonly:
            raise ValidationFailed(
                "only a read-only storage names a derivatives_storage; send "
                '"derivatives_storage": null with "readonly": false',
                field="derivatives_storage",
            )
        users = storage_repository.naming_as_derivatives(session, storage) if storage.id else []
        if storage.readonly and users:
            raise ValidationFailed(
                f"cannot be true: this storage holds the derivatives of "
                f"{', '.join(map(repr, users))}",
                field="readonly",
            )

    @staticmethod
    def _check_provider(provider: str) -> None:
        if provider not in PROVIDERS:
            raise ValidationFailed(
                f"Unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}.",
                field="provider",
            )

    @staticmethod
    def _check_location(
        session: Session, storage: StorageConfig, registry: StorageRegistry
    ) -> None:
        try:
            registry.check_endpoints(session, storage)
        except EndpointRefused as exc:
            raise ValidationFailed(exc.message, field=exc.field) from None
        if storage.provider == "azure" and not storage.prefix:
            raise ValidationFailed(
                "Azure keys start with their container: set prefix to the container (and folder) "
                "moorage may list and, for read-write storage, write derivatives to.",
                field="prefix",
            )
        if storage.provider != "local":
            return
        spec: StorageSpec = registry.spec_for(session, storage)
        try:
            folder = resolve_local_bucket(storage.bucket, spec.local_roots)
            exists = folder.is_dir()
        except StorageError as exc:
            raise ValidationFailed(exc.message, field="bucket") from None
        except OSError as exc:
            raise ValidationFailed(f"cannot be read: {exc.strerror}", field="bucket") from None
        if not exists:
            # like a cloud bucket, the folder must exist: a typo is an error, not a new folder
            raise ValidationFailed(
                f"The folder {folder} does not exist (or is not a folder); create it first.",
                field="bucket",
            )


storage_service = StorageService()
