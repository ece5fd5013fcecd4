"""A job's work and storage read in one row; an item completes with its last job."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import event, inspect, select

from moorage.context import AppContext
from moorage.models import Item, Job, StorageConfig
from moorage.worker.repository import work_repository
from moorage.worker.tasks import process_job
from moorage.worker.work import read_work_and_storage
from tests.helpers import REGISTER, make_storage


def _register(api: TestClient, slots: list[dict]) -> None:
    body = {
        "items": [{"name": "pair", "slots": slots}],
        "dataset_slug": "darwin-py",
        "storage_slug": "media",
    }
    r = api.post(REGISTER, json=body)
    assert r.status_code == 200 and r.json()["blocked_items"] == [], r.text


def _item(ctx: AppContext) -> Item:
    with ctx.db.session() as session:
        return session.scalars(select(Item)).one()


class TestReadWorkAndStorage:
    def test_the_storage_is_the_row_as_stored_and_in_no_session(
        self, api: TestClient, ctx: AppContext, dataset, put_file, sent
    ) -> None:
        make_storage(api)
        _register(api, [{"slot_name": "0", "storage_key": put_file("a.jpg")}])
        with ctx.db.session() as session:
            job = session.scalars(select(Job)).one()
            read = read_work_and_storage(session, job.id, 0)
            assert read is not None
            work, storage = read
            loaded = session.get(StorageConfig, work.storage_id)
            assert loaded is not None and storage is not loaded
            for attr in inspect(StorageConfig).column_attrs:
                assert getattr(storage, attr.key) == getattr(loaded, attr.key), attr.key
            assert inspect(storage).transient  # never flushed: adding it would INSERT
            assert (work.provider, work.prefix) == (loaded.provider, loaded.prefix)

    def test_a_job_whose_storage_was_deleted_is_closed_as_removed(
        self, api: TestClient, ctx: AppContext, dataset, put_file, sent
    ) -> None:
        make_storage(api)
        _register(api, [{"slot_name": "0", "storage_key": put_file("a.jpg")}])
        with ctx.db.session() as session:
            session.delete(session.scalars(select(StorageConfig)).one())
        assert process_job(ctx, sent[0]) == "skipped"
        with ctx.db.session() as session:
            job = session.get(Job, sent[0])
            assert job is not None and job.status == "error"
            assert job.error is not None and job.error["message"] == "item removed"


class TestItemCompletes:
    def test_with_its_last_job_not_before(
        self, api: TestClient, ctx: AppContext, dataset, put_file, sent
    ) -> None:
        make_storage(api)
        slots = [
            {"slot_name": "0", "storage_key": put_file("a.jpg")},
            {"slot_name": "1", "storage_key": put_file("b.jpg")},
        ]
        _register(api, slots)
        assert len(sent) == 2
        assert process_job(ctx, sent[0]) == "done"
        first = _item(ctx)
        assert first.processing_status == "processing"
        assert process_job(ctx, sent[1]) == "done"
        last = _item(ctx)
        assert (last.processing_status, last.status, last.processing_error) == (
            "complete",
            "new",
            None,
        )

    def test_a_job_done_again_leaves_an_item_with_a_failed_slot_in_error(
        self, api: TestClient, ctx: AppContext, dataset, put_file, sent
    ) -> None:
        make_storage(api)
        slots = [
            {"slot_name": "0", "storage_key": put_file("a.jpg")},
            {"slot_name": "1", "storage_key": put_file("bad.jpg", b"not an image")},
        ]
        _register(api, slots)
        assert process_job(ctx, sent[1]) == "error"
        assert process_job(ctx, sent[0]) == "done"
        item = _item(ctx)
        assert item.processing_status == "error" and item.processing_error is not None


class TestLockItem:
    def test_a_row_lock_on_postgresql_nothing_on_sqlite(
        self, api: TestClient, ctx: AppContext, dataset, put_file, sent
    ) -> None:
        make_storage(api)
        _register(api, [{"slot_name": "0", "storage_key": put_file("a.jpg")}])
        item_id = _item(ctx).id
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            statements.append(statement)

        with ctx.db.session() as session:
            session.execute(select(Job.id)).all()  # the transaction has begun
            event.listen(ctx.db.engine, "before_cursor_execute", seen)
            try:
                work_repository.lock_item(session, item_id)
            finally:
                event.remove(ctx.db.engine, "before_cursor_execute", seen)
        if ctx.db.dialect == "sqlite":  # no row locks: the database's write lock serialises
            assert statements == []
        else:
            assert len(statements) == 1 and "FOR UPDATE" in statements[0]
