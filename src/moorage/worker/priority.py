"""Processing yields the CPU to syncs: a worker thread runs processing jobs at a lower OS priority.

A sync's page loop and the thumbnails of the items it has just registered share the machine's
cores (decision 0040). On Linux a thread has its own nice value (``setpriority`` on its native
id), so the thread running a processing job is set ``MOORAGE_PROCESSING_NICE`` above the nice
value the thread started with, and set back before it runs a sync or builds a release (a
cleanup runs at whichever the thread has: it is background work too). Going back up needs the
privilege to lower a nice value (root, ``CAP_SYS_NICE`` or an ``RLIMIT_NICE``): a process
without it (probed once, in a thread of its own) nices nothing, since a thread would then stay
niced for the sync it runs next. Elsewhere than Linux: nothing is changed.
"""

from __future__ import annotations

import os
import sys
import threading
from functools import cache

__all__ = ["can_restore", "run_as_other", "run_as_processing", "thread_nice"]

_state = threading.local()


def thread_nice() -> int | None:
    """This thread's nice value; None where threads have none of their own."""
    if sys.platform != "linux":
        return None
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@cache
def can_restore() -> bool:
    """Whether this process may set a thread's nice value back down (tried in a thread that
    is thrown away, so no thread of the process keeps the probe's nice value)."""
    if sys.platform != "linux":
        return False
    out: list[bool] = []

    def probe() -> None:
        tid = threading.get_native_id()
        base = os.getpriority(os.PRIO_PROCESS, tid)
        try:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, base + 1))
            os.setpriority(os.PRIO_PROCESS, tid, base)
        except OSError:
            out.append(False)
        else:
            out.append(base < 19)

    thread = threading.Thread(target=probe, name="moorage-nice-probe")
    thread.start()
    thread.join()
    return out[0]


def _set(offset: int) -> bool:
    """Set this thread's nice value to its starting one + ``offset``; False when not allowed."""
    if sys.platform != "linux":
        return False
    tid = threading.get_native_id()
    base: int | None = getattr(_state, "base", None)
    if base is None:
        base = _state.base = os.getpriority(os.PRIO_PROCESS, tid)
        _state.offset = 0
    if _state.offset == offset:
        return True
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, base + offset))
    except OSError:  # lowering a nice value without the privilege
        return False
    _state.offset = offset
    return True


def run_as_processing(nice: int) -> bool:
    """Before a processing job: this thread ``nice`` steps below its starting priority (when
    it can be set back for a sync); False when left as it is."""
    if nice <= 0 or not can_restore():
        run_as_other()
        return False
    return _set(nice)


def run_as_other() -> bool:
    """Before a sync or a release: this thread back at its starting priority."""
    if getattr(_state, "base", None) is None:
        return True  # never niced
    return _set(0)
