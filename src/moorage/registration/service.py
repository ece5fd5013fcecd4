"""register_existing: validate every item and slot, check the storage, write what passes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.datasets.service import dataset_service
from moorage.errors import PayloadTooLarge, ValidationFailed
from moorage.kit.gcpause import gc_paused
from moorage.models import Dataset, StorageConfig, Team
from moorage.models.base import utcnow
from moorage.ops import metrics
from moorage.registration.checks import (
    check_key_syntax,
    check_keys_exist,
    check_readonly_fields,
    resolve_unknown_types,
)
from moorage.registration.local_video import check_manifests, expand
from moorage.registration.model import Blocked, ItemIn, RegistrationResult
from moorage.registration.normalize import normalize_item
from moorage.registration.repository import registration_repository
from moorage.registration.rows import build_rows
from moorage.registration.schemas import RegisterRequest
from moorage.registration.types import has_extension
from moorage.storage.base import StorageAdapter, StorageError
from moorage.storages.service import storage_service
from moorage.worker.dispatch import send_after_commit

log = structlog.get_logger(__name__)


class RegistrationService:
    def register(
        self,
        session: Session,
        team: Team,
        *,
        payload: RegisterRequest,
        ctx: AppContext,
        base_url: str,
        force_readonly: bool = False,
        look_up_names: bool = True,
    ) -> RegistrationResult:
        """Validate every item and slot, check the storage, write what passes (flushed, not
        committed: the caller owns the unit of work). A bad item is blocked with a reason, never
        an error; ``render.response_json(result)`` is the Darwin response.

        ``look_up_names=False``: names the dataset holds already are not looked up first; the
        write skips them (its unique index) and they are blocked ``ALREADY_EXISTS`` alike. For
        callers whose names are almost never taken (a sync's keys new to it, decision 0042)."""
        started = time.perf_counter()
        dataset, storage, adapter = self._target(session, team, payload, ctx)
        # read-only storage whose derivatives moorage makes elsewhere is processed as read-write
        readonly = not storage.makes_derivatives or force_readonly
        # the bulk steps build objects that all live to the end: no collection midway (the
        # storage checks between them may wait on the network, so the collector runs there)
        with gc_paused():
            items = [normalize_item(i, raw) for i, raw in enumerate(payload.items)]
            expand(items, max_frames=ctx.settings.max_frames_per_slot)
            self._check_without_storage(
                session, dataset.id, items, readonly=readonly, look_up=look_up_names
            )
        self._check_storage(items, adapter)
        with gc_paused():
            result = self._write(
                session,
                items,
                team=team,
                dataset=dataset,
                storage=storage,
                options=dict(payload.options or {}),
                base_url=base_url,
                readonly=readonly,
            )
        self._report(result, team, dataset, storage, seconds=time.perf_counter() - started)
        return result

    def _write(
        self,
        session: Session,
        items: list[ItemIn],
        *,
        team: Team,
        dataset: Dataset,
        storage: StorageConfig,
        options: dict[str, Any],
        base_url: str,
        readonly: bool,
    ) -> RegistrationResult:
        """The rows of the items that passed every check, written and flushed; the jobs sent
        after the commit."""
        accepted = [i for i in items if not i.blocked]
        now = utcnow()
        rows = build_rows(
            accepted,
            team_id=team.id,
            dataset_id=dataset.id,
            storage_id=storage.id,
            readonly=readonly,
            options=options,
            now=now,
        )
        inserted = registration_repository.write(session, rows, dataset.id)
        for item in accepted:
            if item.id not in inserted:
                item.block("ALREADY_EXISTS", self._exists_message(item))
        job_ids = [r[0] for r in rows.jobs.rows if r[1] in inserted]
        session.flush()
        send_after_commit(session, job_ids)
        return RegistrationResult(
            registered=[i for i in accepted if i.id in inserted],
            blocked=[i for i in items if i.blocked],
            job_ids=job_ids,
            team_slug=team.slug,
            dataset_id=dataset.id,
            readonly=readonly,
            registered_at=now,
            base_url=base_url,
        )

    def _target(
        self, session: Session, team: Team, payload: RegisterRequest, ctx: AppContext
    ) -> tuple[Dataset, StorageConfig, StorageAdapter]:
        """The dataset and storage the request names, and the storage's adapter."""
        limit = ctx.settings.max_items_per_request
        if len(payload.items) > limit:
            raise PayloadTooLarge(
                f"A request may register at most {limit} items; this one has "
                f"{len(payload.items)}. Split it into several requests.",
                field="items",
            )
        dataset = dataset_service.get_by_slug(session, team, payload.dataset_slug)
        storage = storage_service.for_registration(session, team, payload.storage_slug)
        try:
            adapter = ctx.storages.adapter_for(session, storage)
        except StorageError as exc:
            raise ValidationFailed(
                f"Storage {storage.slug!r} cannot be used: {exc.message}", field="storage_slug"
            ) from None
        return dataset, storage, adapter

    def _check_without_storage(
        self,
        session: Session,
        dataset_id: int,
        items: list[ItemIn],
        *,
        readonly: bool,
        look_up: bool = True,
    ) -> None:
        """The checks before the storage's, cheapest first: a blocked item skips the rest."""
        self._check_types_and_fields(items, readonly=readonly)
        check_key_syntax(items)
        self._block_duplicates(session, dataset_id, items, look_up=look_up)

    @staticmethod
    def _check_storage(items: list[ItemIn], adapter: StorageAdapter) -> None:
        """The checks that read the storage, for the items no earlier check blocked."""
        resolve_unknown_types(items, adapter)
        check_keys_exist(items, adapter)
        check_manifests(items, adapter)

    def check_without_files(self, session: Session, dataset_id: int, items: list[ItemIn]) -> None:
        """The checks that need no stored file, for items whose files come later (uploads)."""
        self._check_without_storage(session, dataset_id, items, readonly=False)

    @staticmethod
    def _report(
        result: RegistrationResult,
        team: Team,
        dataset: Dataset,
        storage: StorageConfig,
        *,
        seconds: float,
    ) -> None:
        blocked = [i.blocked_json() for i in result.blocked]
        metrics.record_registration(
            provider=storage.provider,
            readonly=result.readonly,
            registered=len(result.registered),
            blocked=blocked,
        )
        log.info(
            "registration.completed",
            team=team.slug,
            dataset=dataset.slug,
            storage=storage.slug,
            registered=len(result.registered),
            blocked=len(blocked),
            readonly=result.readonly,
            seconds=round(seconds, 3),
        )

    @staticmethod
    def _exists_message(item: ItemIn) -> str:
        return f"An item named {item.name!r} already exists at path {item.path!r} in this dataset."

    def _check_types_and_fields(self, items: Sequence[ItemIn], *, readonly: bool) -> None:
        for item in items:
            if item.blocked:
                continue
            for slot in item.slots:
                if slot.error is not None:
                    continue
                if slot.kind is None and has_extension(slot.file_name):
                    slot.error = Blocked(
                        "UNSUPPORTED_TYPE",
                        f"{slot.file_name!r} has an extension moorage does not know; give type "
                        "(image, video, pdf, dicom).",
                        field="type",
                    )
                elif readonly and slot.kind is not None:
                    try:
                        check_readonly_fields(slot)
                    except Blocked as exc:
                        slot.error = exc

    def _block_duplicates(
        self, session: Session, dataset_id: int, items: Sequence[ItemIn], *, look_up: bool
    ) -> None:
        seen: set[tuple[str, str]] = set()
        candidates: list[ItemIn] = []
        for item in items:
            if item.blocked or item.name is None:
                continue
            key = (item.path, item.name)
            if key in seen:
                item.block(
                    "ALREADY_EXISTS",
                    f"The item {item.name!r} at path {item.path!r} appears twice in this request.",
                )
                continue
            seen.add(key)
            candidates.append(item)
        if not look_up:
            return
        existing = registration_repository.existing_names(
            session, dataset_id, [(i.path, i.name) for i in candidates if i.name is not None]
        )
        for item in candidates:
            if (item.path, item.name) in existing:
                item.block("ALREADY_EXISTS", self._exists_message(item))


registration_service = RegistrationService()
