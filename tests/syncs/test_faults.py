"""A storage failing mid-listing, a lost lease, and a cancel mid-sync."""

from __future__ import annotations

import uuid

from moorage.models import Sync
from moorage.storage.base import AccessDenied, StorageUnavailable
from moorage.syncs.runner import run_sync
from moorage.syncs.schemas import SyncCreate
from moorage.syncs.service import sync_service
from moorage.teams.service import team_service
from tests.syncs.conftest import wait_for
from tests.worker.test_faults import wrap_adapters


def failing_after(pages: int, error: Exception):
    calls = {"n": 0}

    def list_page(inner, prefix, *, cursor=None, limit=1000):
        calls["n"] += 1
        if calls["n"] > pages:
            raise error
        return inner.list_page(prefix, cursor=cursor, limit=limit)

    return list_page, calls


def create(ctx, **body) -> uuid.UUID:
    with ctx.db.session() as session:
        team = team_service.get_by_slug(session, "acme")
        spec = SyncCreate(storage_slug="media", **body)
        return sync_service.create(session, team, dataset_slug="darwin-py", body=spec, ctx=ctx).id


def row(ctx, sync_id: uuid.UUID) -> Sync:
    with ctx.db.session() as session:
        return session.get(Sync, sync_id)


class TestStorageFailsMidListing:
    def test_failed_with_the_reason_and_a_new_sync_resumes(
        self, ctx, api, dataset, rw_storage, put_file, monkeypatch
    ) -> None:
        ctx.settings.sync_page_size = 3
        for i in range(10):
            put_file(f"p{i:02d}.jpg")
        list_page, _ = failing_after(2, AccessDenied("Listing was refused."))
        wrap_adapters(monkeypatch, ctx, list_page=list_page)
        sync_id = create(ctx)
        assert run_sync(ctx, sync_id, attempt=None, send=lambda *a: None) == "failed"
        failed = row(ctx, sync_id)
        assert failed.state == "failed" and not failed.held
        assert failed.error == {
            "reason": "STORAGE_ACCESS_DENIED",
            "message": "Listing was refused.",
        }
        assert failed.counts["registered"] == 6, "the two pages before the failure were kept"
        assert failed.cursor == "p05.jpg", "the checkpoint stays for a later run"
        monkeypatch.undo()
        again = create(ctx)
        assert run_sync(ctx, again, attempt=None, send=lambda *a: None) == "complete"
        done = row(ctx, again)
        assert (done.counts["registered"], done.counts["unchanged"]) == (4, 6)

    def test_transient_errors_are_retried_within_the_run(
        self, ctx, api, dataset, rw_storage, put_file, monkeypatch
    ) -> None:
        import moorage.syncs.runner as runner

        monkeypatch.setattr(runner.time, "sleep", lambda s: None)
        put_file("a.jpg")
        outages = {"left": 2}

        def list_page(inner, prefix, *, cursor=None, limit=1000):
            if outages["left"]:
                outages["left"] -= 1
                raise StorageUnavailable("Slow down.")
            return inner.list_page(prefix, cursor=cursor, limit=limit)

        wrap_adapters(monkeypatch, ctx, list_page=list_page)
        sync_id = create(ctx)
        assert run_sync(ctx, sync_id, attempt=None, send=lambda *a: None) == "complete"
        assert row(ctx, sync_id).counts["registered"] == 1


class TestLease:
    def test_a_stale_message_takes_nothing(self, ctx, api, dataset, rw_storage, put_file) -> None:
        put_file("a.jpg")
        sync_id = create(ctx)
        assert run_sync(ctx, sync_id, attempt=5, send=lambda *a: None) == "skipped"
        assert row(ctx, sync_id).state == "queued"

    def test_a_run_taken_back_writes_nothing(
        self, ctx, api, dataset, rw_storage, put_file, monkeypatch
    ) -> None:
        ctx.settings.sync_page_size = 2
        for i in range(6):
            put_file(f"t{i}.jpg")
        sync_id = create(ctx)

        def list_page(inner, prefix, *, cursor=None, limit=1000):
            if cursor is not None:  # the reconciler took the sync back after the first page
                with ctx.db.session() as session:
                    session.get(Sync, sync_id).attempts += 1
            return inner.list_page(prefix, cursor=cursor, limit=limit)

        wrap_adapters(monkeypatch, ctx, list_page=list_page)
        assert run_sync(ctx, sync_id, attempt=None, send=lambda *a: None) == "lost"
        assert row(ctx, sync_id).counts["registered"] <= 2


class TestCancel:
    def test_cancel_mid_sync_stops_at_the_next_page(
        self, ctx, api, dataset, rw_storage, put_file, monkeypatch, runtime
    ) -> None:
        import threading

        ctx.settings.sync_page_size = 2
        for i in range(8):
            put_file(f"c{i}.jpg")
        release = threading.Event()
        reached = threading.Event()

        def list_page(inner, prefix, *, cursor=None, limit=1000):
            if cursor is not None:
                reached.set()
                release.wait(30)
            return inner.list_page(prefix, cursor=cursor, limit=limit)

        wrap_adapters(monkeypatch, ctx, list_page=list_page)
        r = api.post("/api/v2/teams/acme/datasets/darwin-py/syncs", json={"storage_slug": "media"})
        sync_id = r.json()["id"]
        assert reached.wait(30)
        cancelled = api.post(f"/api/v2/teams/acme/syncs/{sync_id}/cancel").json()
        assert cancelled["state"] == "cancelled"
        release.set()
        body = wait_for(api, sync_id)
        assert body["state"] == "cancelled"
        assert body["counts"]["registered"] <= 2, "no page after the cancel was written"
