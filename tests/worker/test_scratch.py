"""A worker thread's scratch folder: one per thread, empty at every job, whatever the last did."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from moorage.media import NO_LIMITS, MediaError
from moorage.storage.memory import MemoryStorage
from moorage.worker.failure import scrub_paths
from moorage.worker.leases import Lease
from moorage.worker.scratch import job_folder
from moorage.worker.tasks import make_derivatives
from tests.helpers import jpeg_bytes
from tests.worker.works import image_work


def _in_thread(fn):  # type: ignore[no-untyped-def]
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


class TestJobFolder:
    def test_emptied_after_each_job_and_reused_by_the_thread(self) -> None:
        with job_folder() as first:
            (first / "00000-a.jpg").write_bytes(b"a")
            (first / "sub").mkdir()
            (first / "sub" / "b").write_bytes(b"b")
        assert first.is_dir() and list(first.iterdir()) == []
        with job_folder() as second:
            assert second == first and list(second.iterdir()) == []

    def test_emptied_when_the_job_fails(self) -> None:
        seen: list[Path] = []

        def failing_job() -> None:
            with job_folder() as folder:
                seen.append(folder)
                (folder / "00000-a.jpg").write_bytes(b"a")
                raise RuntimeError("the file was at fault")

        with pytest.raises(RuntimeError, match="at fault"):
            failing_job()
        assert list(seen[0].iterdir()) == []

    def test_made_again_when_removed_meanwhile(self) -> None:
        with job_folder() as folder:
            pass
        shutil.rmtree(folder)
        with job_folder() as again:
            assert again.is_dir() and again != folder

    def test_each_thread_has_its_own(self) -> None:
        def folder_of_thread() -> Path:
            with job_folder() as folder:
                return folder

        with job_folder() as mine:
            pass
        theirs = _in_thread(folder_of_thread)
        assert theirs != mine and theirs.parent == mine.parent

    def test_named_so_error_messages_drop_it(self) -> None:
        with job_folder() as folder:
            message = f"cannot identify image file '{folder / '00000-cat.jpg'}'"
        assert scrub_paths(message) == "cannot identify image file 'cat.jpg'"


class TestMakeDerivativesLeavesNothing:
    def test_the_download_is_gone_after_the_job(self) -> None:
        store = MemoryStorage({"in/cat.jpg": jpeg_bytes(80, 60)})
        work = image_work("in/cat.jpg")
        outcome = make_derivatives(work, store, lease=Lease(work.job_id, 1), limits=NO_LIMITS)
        assert outcome.result is not None
        with job_folder() as folder:
            assert list(folder.iterdir()) == []

    def test_the_download_is_gone_after_a_failed_job(self) -> None:
        store = MemoryStorage({"in/cat.jpg": b"not an image"})
        work = image_work("in/cat.jpg")
        with pytest.raises(MediaError):
            make_derivatives(work, store, lease=Lease(work.job_id, 1), limits=NO_LIMITS)
        with job_folder() as folder:
            assert list(folder.iterdir()) == []
