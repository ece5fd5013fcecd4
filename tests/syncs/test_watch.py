"""Watching: key events applied as one-key syncs (idempotent), and polling passes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from moorage.models import Sync
from moorage.storage.base import StorageAdapter
from moorage.storage.events import KeyEvent
from moorage.syncs import watch
from moorage.syncs.service import apply_key_events, open_event_source
from tests.helpers import jpeg_bytes
from tests.syncs.conftest import SYNC, wait_for

ITEMS = "/api/v2/teams/acme/items"


def adapter_of(ctx, sync_id: str) -> StorageAdapter:
    with ctx.db.session() as session:
        sync = session.get(Sync, uuid.UUID(sync_id))
        from moorage.models import StorageConfig

        storage = session.get(StorageConfig, sync.storage_id)
        return ctx.storages.adapter_for(session, storage)


def created(adapter: StorageAdapter, key: str) -> KeyEvent:
    """The event S3 would send for the object as it is now on disk."""
    info = adapter.head(key)
    return KeyEvent("created", key, size=info.size, etag=info.etag)


def apply(ctx, sync_id: str, events: Sequence[KeyEvent]) -> dict[str, int]:
    with ctx.db.session() as session:
        sync = session.get(Sync, uuid.UUID(sync_id))
        apply_key_events(session, sync, events, ctx=ctx)
        return dict(sync.counts)


def names(api, dataset, **params) -> list[str]:
    r = api.get(ITEMS, params={"dataset_ids": str(dataset["id"]), **params})
    return sorted(i["name"] for i in r.json()["items"])


class TestApplyKeyEvents:
    def test_created_changed_removed_restored_and_idempotent(
        self, ctx, api, dataset, bucket: Path, put_file, sync_once
    ) -> None:
        put_file("a.jpg")
        put_file("b.jpg")
        done = sync_once()
        adapter = adapter_of(ctx, done["id"])
        put_file("c.jpg")
        (bucket / "a.jpg").write_bytes(jpeg_bytes(90, 70))
        (bucket / "b.jpg").unlink()
        events = [
            created(adapter, "c.jpg"),
            created(adapter, "a.jpg"),
            KeyEvent("removed", "b.jpg"),
        ]
        counts = apply(ctx, done["id"], events)
        assert (counts["registered"], counts["changed"], counts["missing"]) == (3, 1, 1)
        assert names(api, dataset) == ["a.jpg", "b.jpg", "c.jpg"]
        assert names(api, dataset, source_statuses="missing") == ["b.jpg"]
        # delivered again (at least once): nothing changes
        again = apply(ctx, done["id"], events)
        assert (again["registered"], again["changed"], again["missing"]) == (3, 1, 1)
        assert names(api, dataset) == ["a.jpg", "b.jpg", "c.jpg"]
        put_file("b.jpg")
        back = apply(ctx, done["id"], [created(adapter, "b.jpg")])
        assert back["restored"] == 1
        assert names(api, dataset, source_statuses="missing") == []
        # an unsupported file arriving by event is blocked as in a pass
        put_file("elsewhere/x.txt", b"x")
        assert apply(ctx, done["id"], [created(adapter, "elsewhere/x.txt")])["blocked"] == 1

    def test_removed_key_never_registered_is_ignored(self, ctx, api, dataset, put_file, sync_once):
        put_file("a.jpg")
        done = sync_once(include=["*.jpg"])
        counts = apply(
            ctx, done["id"], [KeyEvent("removed", "never.jpg"), KeyEvent("removed", "notes.txt")]
        )
        assert counts["missing"] == 0


class TestEventSourceHook:
    def test_no_event_source_module_means_polling(self, ctx, api, rw_storage) -> None:
        with ctx.db.session() as session:
            from moorage.models import StorageConfig

            storage = session.get(StorageConfig, rw_storage["id"])
            spec = ctx.storages.spec_for(session, storage)
        try:
            import moorage.storage.events_sqs  # noqa: F401
        except ImportError:
            assert open_event_source(spec) is None
        else:  # merged with the SQS source: a local storage still has no queue
            assert open_event_source(spec) is None


@dataclass
class _Batch:
    events: list[KeyEvent]
    acked: threading.Event = field(default_factory=threading.Event)

    def ack(self) -> None:
        self.acked.set()


class _ListSource:
    """An EventSource over events a test builds from real files (the interface's fake)."""

    def __init__(self) -> None:
        self.batches: list[_Batch] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    def push(self, events: list[KeyEvent]) -> _Batch:
        batch = _Batch(events)
        with self.arrived:
            self.batches.append(batch)
            self.arrived.notify_all()
        return batch

    def receive(self, *, wait_seconds: float = 10.0, max_events: int = 100) -> _Batch:
        with self.arrived:
            self.arrived.wait_for(lambda: bool(self.batches), timeout=wait_seconds)
            return self.batches.pop(0) if self.batches else _Batch([])

    def close(self) -> None:
        pass


class TestWatching:
    def test_polling_pass_every_poll_seconds(self, api, dataset, put_file, start_sync) -> None:
        put_file("a.jpg")
        sync = start_sync(watch=True, poll_seconds=1)
        first = wait_for(api, sync["id"], ("watching",))
        assert first["counts"]["registered"] == 1 and first["passes"] == 1
        put_file("b.jpg")
        deadline_body = wait_for_count(api, sync["id"], "registered", 2)
        assert deadline_body["state"] == "watching"
        assert deadline_body["counts"]["listed"] == 2, "listed counts the latest pass"
        r = api.post(SYNC.format(id=sync["id"]) + "/cancel")
        assert r.json()["state"] == "cancelled"

    def test_events_received_applied_acknowledged(
        self, ctx, api, dataset, put_file, start_sync, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        source = _ListSource()
        monkeypatch.setattr(watch, "open_event_source", lambda spec: source)
        monkeypatch.setattr(watch, "WINDOW_SECONDS", 2.0)
        put_file("a.jpg")
        sync = start_sync(watch=True, poll_seconds=3600)
        wait_for(api, sync["id"], ("watching",))
        adapter = adapter_of(ctx, sync["id"])
        put_file("new.jpg")
        batch = source.push([created(adapter, "new.jpg")])
        assert batch.acked.wait(30), "the batch was never acknowledged"
        body = wait_for_count(api, sync["id"], "registered", 2)
        assert "new.jpg" in names(api, dataset)
        assert body["state"] == "watching"
        api.post(SYNC.format(id=sync["id"]) + "/cancel")


def wait_for_count(api, sync_id: str, name: str, n: int, timeout: float = 30) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        body = api.get(SYNC.format(id=sync_id)).json()
        if body["counts"][name] >= n or time.monotonic() > deadline:
            assert body["counts"][name] >= n, body
            return body
        time.sleep(0.05)
