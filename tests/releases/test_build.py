"""Building a release's zip: keyset pages, the lease, the reconciler's round."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from moorage.context import AppContext
from moorage.models import Release
from moorage.models.base import utcnow
from moorage.releases import build
from moorage.releases.build import build_release, zip_path
from moorage.releases.repository import release_repository
from moorage.releases.tasks import reconcile_releases
from tests.helpers import REGISTER

EXPORTS = "/api/v2/teams/acme/datasets/darwin-py/exports"


@pytest.fixture
def pending(api: TestClient, dataset: dict, rw_storage: dict, put_file: Any) -> uuid.UUID:
    """A pending release of five items (no worker runs here: it stays pending)."""
    keys = [put_file(f"img/{n}.jpg") for n in range(5)]
    items = [{"name": Path(k).name, "path": "/img", "storage_key": k} for k in keys]
    r = api.post(
        REGISTER, json={"items": items, "dataset_slug": "darwin-py", "storage_slug": "media"}
    )
    assert r.status_code == 200 and not r.json()["blocked_items"], r.text
    r = api.post(EXPORTS, json={"name": "v1", "include_export_token": True})
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    return uuid.UUID(r.json()["id"])


def release_row(ctx: AppContext, release_id: uuid.UUID) -> Release:
    with ctx.db.session() as session:
        row = release_repository.by_id(session, release_id)
        assert row is not None
        session.expunge(row)
        return row


def entries(ctx: AppContext, release_id: uuid.UUID) -> dict[str, Any]:
    path = zip_path(ctx, release_row(ctx, release_id))
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as zf:
        return {n: json.loads(zf.read(n)) for n in zf.namelist()}


class TestPages:
    def test_items_span_pages(
        self, ctx: AppContext, pending: uuid.UUID, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(build, "PAGE", 2)
        assert build_release(ctx, pending) == "complete"
        found = entries(ctx, pending)
        assert sorted(d["item"]["name"] for d in found.values()) == [f"{n}.jpg" for n in range(5)]
        row = release_row(ctx, pending)
        assert (row.status, row.item_count, row.image_count, row.held) == ("complete", 5, 5, False)
        assert row.zip_bytes == zip_path(ctx, row).stat().st_size
        assert not list(zip_path(ctx, row).parent.glob("*.partial"))

    def test_a_second_message_builds_nothing(self, ctx: AppContext, pending: uuid.UUID) -> None:
        assert build_release(ctx, pending) == "complete"
        assert build_release(ctx, pending, attempt=0) == "skipped"
        assert build_release(ctx, pending) == "skipped"


class TestLease:
    def test_a_run_taken_over_records_nothing(
        self, ctx: AppContext, pending: uuid.UUID, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(build, "PAGE", 1)
        real = release_repository.heartbeat

        def taken_meanwhile(session: Any, release_id: uuid.UUID, token: int) -> bool:
            # another worker took the release back since the last page
            session.execute(update(Release).where(Release.id == release_id).values(attempts=7))
            session.commit()
            return real(session, release_id, token)

        monkeypatch.setattr(release_repository, "heartbeat", taken_meanwhile)
        assert build_release(ctx, pending) == "lost"
        row = release_row(ctx, pending)
        assert (row.status, row.attempts) == ("pending", 7)
        assert not zip_path(ctx, row).exists()
        assert not list(zip_path(ctx, row).parent.glob("*.partial"))

    def test_reconciler_resends_a_silent_build(self, ctx: AppContext, pending: uuid.UUID) -> None:
        with ctx.db.session() as session:
            assert release_repository.claim(
                session, pending, attempt=0, stale_before=utcnow() - timedelta(seconds=60)
            )
            session.commit()
        sent: list[tuple[uuid.UUID, int]] = []
        assert reconcile_releases(ctx, sent.extend, all_queued=False) == 0  # held, beating
        assert build_release(ctx, pending, attempt=0) == "skipped"
        with ctx.db.session() as session:  # its worker died an hour ago
            session.execute(
                update(Release)
                .where(Release.id == pending)
                .values(heartbeat_at=utcnow() - timedelta(hours=1))
            )
            session.commit()
        assert reconcile_releases(ctx, sent.extend, all_queued=False) == 1
        assert sent == [(pending, 1)]
        assert build_release(ctx, pending, attempt=1) == "complete"

    def test_reconciler_resends_a_lost_message(self, ctx: AppContext, pending: uuid.UUID) -> None:
        sent: list[tuple[uuid.UUID, int]] = []
        assert reconcile_releases(ctx, sent.extend, all_queued=True) == 1
        assert sent == [(pending, 0)]
        assert build_release(ctx, pending, attempt=0) == "complete"
        assert reconcile_releases(ctx, sent.extend, all_queued=True) == 0  # built: nothing to send
