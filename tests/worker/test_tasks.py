"""The storage part of a run, against the built-in ``MemoryStorage`` fake (no database)."""

from __future__ import annotations

import pytest

from moorage.media import NO_LIMITS, LimitExceeded, Limits
from moorage.storage.base import ObjectNotFound
from moorage.storage.memory import MemoryStorage
from moorage.worker.leases import JobLost, Lease
from moorage.worker.tasks import make_derivatives
from moorage.worker.work import Work
from tests.helpers import jpeg_bytes
from tests.worker.works import image_work


def _lease(work: Work) -> Lease:
    return Lease(work.job_id, work.token)


class TestMakeDerivatives:
    def test_thumbnail_written_under_the_slot_folder(self) -> None:
        store = MemoryStorage({"in/cat.jpg": jpeg_bytes(800, 600)})
        work = image_work()
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
        work = image_work(supplied=True)
        outcome = make_derivatives(work, store, lease=_lease(work), limits=NO_LIMITS)
        assert outcome.result is None and outcome.size == len(jpeg_bytes(80, 60))
        assert [o.key for o in store.list_page("derived").objects] == []

    def test_missing_original_is_a_storage_error(self) -> None:
        work = image_work()
        with pytest.raises(ObjectNotFound):
            make_derivatives(work, MemoryStorage(), lease=_lease(work), limits=NO_LIMITS)

    def test_a_lost_lease_writes_nothing(self) -> None:
        store = MemoryStorage({"in/cat.jpg": jpeg_bytes(200, 100)})
        work = image_work()
        lease = _lease(work)
        lease.lost.set()
        with pytest.raises(JobLost):
            make_derivatives(work, store, lease=lease, limits=NO_LIMITS)
        assert store.list_page("derived").objects == []

    def test_derivative_bytes_over_the_cap_stop_the_slot(self) -> None:
        store = MemoryStorage({"in/cat.jpg": jpeg_bytes(400, 300)})
        work = image_work()
        with pytest.raises(LimitExceeded) as caught:
            make_derivatives(work, store, lease=_lease(work), limits=Limits(max_bytes=10))
        assert caught.value.limit == "max_derivative_bytes"
