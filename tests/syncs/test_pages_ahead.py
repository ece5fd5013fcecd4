"""Two pages registering at once on PostgreSQL (decision 0040): committed in order, so the
checkpoint never counts a page whose items are not in the database."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from moorage.models import Item, SyncKey
from moorage.syncs import runner
from moorage.syncs.runner import run_sync
from tests.syncs.test_faults import create, row

# pages register at once on PostgreSQL only: these tests run on it alone, not skipped on SQLite
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def pg(ctx: Any) -> Any:
    assert ctx.db.dialect == "postgresql"
    ctx.settings.sync_page_size = 3
    return ctx


def stored(ctx: Any) -> tuple[int, int]:
    with ctx.db.session() as session:
        items = session.scalar(select(func.count()).select_from(Item))
        keys = session.scalar(select(func.count()).select_from(SyncKey))
    return int(items or 0), int(keys or 0)


def spy_pages(
    monkeypatch: pytest.MonkeyPatch, *, key: str | None = None, times: int = 1_000
) -> list[str]:
    """Record the thread each page is applied in; the page holding ``key`` raises the first
    ``times`` times it is applied."""
    threads: list[str] = []
    failed: list[str] = []
    real = runner.apply_page

    def apply_page(*args: Any, **kwargs: Any) -> None:
        threads.append(threading.current_thread().name)
        if any(o.key == key for o in args[2]) and len(failed) < times:
            failed.append(threading.current_thread().name)
            raise RuntimeError("page failed")
        real(*args, **kwargs)

    monkeypatch.setattr(runner, "apply_page", apply_page)
    return threads


def test_pages_register_in_the_page_threads_with_exact_counts(
    pg, api, dataset, rw_storage, put_file, monkeypatch
) -> None:
    for i in range(10):
        put_file(f"d{i % 2}/p{i:02d}.jpg")
    threads = spy_pages(monkeypatch)
    sync_id = create(pg)
    assert run_sync(pg, sync_id, attempt=None, send=lambda *a: None) == "complete"
    done = row(pg, sync_id)
    assert done.counts["listed"] == done.counts["registered"] == 10
    assert stored(pg) == (10, 10)
    assert len(threads) == 4 and all(t.startswith("sync-page") for t in threads)


def test_a_page_failing_once_while_the_one_before_ran_is_applied_again(
    pg, api, dataset, rw_storage, put_file, monkeypatch
) -> None:
    for i in range(12):
        put_file(f"p{i:02d}.jpg")
    threads = spy_pages(monkeypatch, key="p07.jpg", times=1)  # the third page, once
    sync_id = create(pg)
    assert run_sync(pg, sync_id, attempt=None, send=lambda *a: None) == "complete"
    assert row(pg, sync_id).counts["registered"] == 12
    assert stored(pg) == (12, 12)
    assert len(threads) == 5, "four pages, one of them twice"


def test_a_page_failing_fails_the_sync_and_rolls_back_the_one_after_it(
    pg, api, dataset, rw_storage, put_file, monkeypatch
) -> None:
    for i in range(12):
        put_file(f"p{i:02d}.jpg")
    spy_pages(monkeypatch, key="p07.jpg")  # the third page, every time
    sync_id = create(pg)
    assert run_sync(pg, sync_id, attempt=None, send=lambda *a: None) == "failed"
    failed = row(pg, sync_id)
    assert failed.counts["registered"] == 6, "the two pages before the failure"
    assert failed.cursor == "p05.jpg", "the checkpoint is the last page committed in order"
    assert stored(pg) == (6, 6), "the page after the failed one was rolled back"


def test_a_page_that_waited_too_long_is_applied_again_after_the_one_before(
    pg, api, dataset, rw_storage, put_file, monkeypatch
) -> None:
    for i in range(10):
        put_file(f"p{i:02d}.jpg")
    monkeypatch.setattr(runner, "AHEAD_WAIT_S", 0.0)  # no page may wait: each is redone
    sync_id = create(pg)
    assert run_sync(pg, sync_id, attempt=None, send=lambda *a: None) == "complete"
    done = row(pg, sync_id)
    assert done.counts["registered"] == 10 and done.counts["blocked"] == 0
    assert stored(pg) == (10, 10)


def test_off_registers_one_page_at_a_time(
    pg, api, dataset, rw_storage, put_file, monkeypatch
) -> None:
    pg.settings.sync_pages_ahead = False
    for i in range(7):
        put_file(f"p{i:02d}.jpg")
    threads = spy_pages(monkeypatch)
    sync_id = create(pg)
    assert run_sync(pg, sync_id, attempt=None, send=lambda *a: None) == "complete"
    assert row(pg, sync_id).counts["registered"] == 7
    assert threads == [threading.current_thread().name] * 3
