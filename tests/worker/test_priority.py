"""Processing threads yield the CPU: their nice value, read back from the kernel."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from moorage.worker.priority import can_restore, run_as_other, run_as_processing, thread_nice

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's"),
    pytest.mark.skipif(not can_restore(), reason="this process may not lower a nice value"),
]


def in_thread(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a fresh thread (a nice value set there stays there)."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(work()))
    thread.start()
    thread.join()
    return out[0]


def test_a_processing_job_runs_niced_and_a_sync_after_it_does_not() -> None:
    def work() -> tuple[int | None, ...]:
        start = thread_nice()
        assert run_as_processing(10)
        niced = thread_nice()
        assert run_as_other()
        return start, niced, thread_nice()

    start, niced, after = in_thread(work)
    assert start is not None
    assert niced == min(19, start + 10)
    assert after == start


def test_only_the_thread_of_the_job_is_niced() -> None:
    before = thread_nice()
    in_thread(lambda: run_as_processing(5))
    assert thread_nice() == before


def test_zero_leaves_the_priority_alone_and_offsets_do_not_add_up() -> None:
    def work() -> tuple[int | None, int | None, int | None]:
        start = thread_nice()
        run_as_processing(0)
        unchanged = thread_nice()
        run_as_processing(3)
        run_as_processing(3)  # job after job: still 3 above the start, not 6
        return start, unchanged, thread_nice()

    start, unchanged, twice = in_thread(work)
    assert start is not None
    assert unchanged == start
    assert twice == min(19, start + 3)


def test_a_thread_never_niced_is_not_touched_by_a_sync() -> None:
    assert in_thread(lambda: (run_as_other(), thread_nice())) == (True, thread_nice())


def test_the_probe_leaves_no_thread_niced() -> None:
    before = thread_nice()
    can_restore.cache_clear()
    assert can_restore()
    assert thread_nice() == before


def test_a_process_that_may_not_lower_a_nice_value_nices_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kernel's rule for an unprivileged process (no ``CAP_SYS_NICE``, ``RLIMIT_NICE`` 0):
    raising a nice value is allowed, lowering it is EPERM."""
    real = os.setpriority

    def unprivileged(which: int, who: int, value: int) -> None:
        if value < os.getpriority(which, who):
            raise PermissionError(1, "Operation not permitted")
        real(which, who, value)

    monkeypatch.setattr(os, "setpriority", unprivileged)
    can_restore.cache_clear()
    try:
        assert in_thread(lambda: (run_as_processing(10), thread_nice())) == (False, thread_nice())
        assert not can_restore()
    finally:
        can_restore.cache_clear()
