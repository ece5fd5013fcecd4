"""Pausing the cyclic garbage collector around a bulk step that builds many objects.

A 10,000-item registration makes a few hundred thousand containers (payload dicts, ``ItemIn``s,
row tuples, the response) that all live until the step ends. Every 700 new containers start a
young collection, and every tenth of those that finds the survivors grown by a quarter walks
the whole heap: a third of the request's CPU time went to collections that free nothing.
Refcounting still frees everything as usual while paused; only reference cycles wait until
the collector is back on (when the last paused step ends, in any thread).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block; nests, and is safe to use from many threads."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
