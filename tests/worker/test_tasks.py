"""The storage part of a run, against the built-in ``MemoryStorage`` fake (no database)."""

from __future__ import annotations

import uuid

import pytest

from moorage.media import NO_LIMITS, LimitExceeded, Limits
from moorage.storage.base import ObjectNotFound
from moorage.storage.memory import MemoryStorage
from moorage.worker.leases import JobLost, Lease
from moorage.worker.tasks import make_derivatives
from moorage.worker.work import Source, Work
from tests.helpers import jpeg_bytes


def _work(key: str = "in/cat.jpg", *, supplied: bool = False) -> Work:
    return Work(
        job_id=uuid.uuid4(),
        token=1,
        item_id=uuid.uuid4(),
        slot_id=uuid.uuid4(),
        kind="image",
        storage_key=key,
        fps=None,
        as_frames=False,
        extract_views=False,
        storage_id=1,
        provider="memory",
        prefix="derived",
        sources=(Source(key, "cat.jpg"),),
        supplied=supplied,
    )


def _lease(work: Work) -> Lease:
    return Lease(work.job_id, work.token)


class TestMakeDerivatives:
    def test_thumbnail_written_under_the_slot_folder(self) -> None:
        store = MemoryStorage({"in/cat.jpg": jpeg_bytes(800, 600)})
        work = _work()
        outcome = make_derivatives(work, store, lease=_lease(work), limits=NO_LIMITS)
        assert outcome.folder == f"derived/{work.item_id}/files/{work.slot_id}"
        assert outcome.size == len(jpeg_bytes(800, 600))
        assert outcome.result is not None
        assert (outcome.result.width, outcome.result.height) == (800, 600)
        thumb = outcome.key(outcome.result.thumbnail_name or "")
        assert store.head(thumb).size > 0
        assert store.read_bytes(thumb)[:2] == b"\xff\xd8"

    def test_supplied_derivatives_are_not_regenerated(self) -> None:
        store = MemoryStorage({"in/cat.jpg": jpeg_bytes(80, 60)})
        work = _work(supplied=True)
        outcome = make_derivatives(work, store, lease=_lease(work), limits=NO_LIMITS)
        assert outcome.result is None and outcome.size == len(jpeg_bytes(80, 60))
        assert [o.key for o in store.list_page("derived").objects] == []

    def test_missing_original_is_a_storage_error(self) -> None:
        work = _work()
        with pytest.raises(ObjectNotFound):
            make_derivatives(work, MemoryStorage(), lease=_lease(work), limits=NO_LIMITS)

    def test_a_lost_lease_writes_nothing(self) -> None:
        store = MemoryStorage({"in/cat.jpg": jpeg_bytes(200, 100)})
        work = _work()
        lease = _lease(work)
        lease.lost.set()
        with pytest.raises(JobLost):
            make_derivatives(work, store, lease=lease, limits=NO_LIMITS)
        assert store.list_page("derived").objects == []

    def test_derivative_bytes_over_the_cap_stop_the_slot(self) -> None:
        store = MemoryStorage({"in/cat.jpg": jpeg_bytes(400, 300)})
        work = _work()
        with pytest.raises(LimitExceeded) as caught:
            make_derivatives(work, store, lease=_lease(work), limits=Limits(max_bytes=10))
        assert caught.value.limit == "max_derivative_bytes"
