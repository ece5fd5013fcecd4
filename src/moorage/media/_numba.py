"""numba's ``njit``, bounds-checked, with a compile cache that works on read-only installations.

Every kernel is compiled with ``boundscheck=True`` (an index out of its array raises
``IndexError``, which the JPEG decoder turns into a fallback to libjpeg-turbo) unless it says
otherwise: only the entropy decoder's inner loop does, where the checks cost ~18%, and it
checks once, on entry, the invariants its indexing rests on (docs/decisions/0009).

Compiled kernels are cached next to their source; an installation that cannot write there (a
read-only image, another user's site-packages) caches them in the temp folder instead, since
numba refuses ``cache=True`` when it has nowhere to write. Import ``njit`` from here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

if "NUMBA_CACHE_DIR" not in os.environ and not os.access(Path(__file__).parent, os.W_OK):
    os.environ["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "moorage-numba")

# Imported after the cache folder is settled: numba reads it once, on import.
import numba  # noqa: E402

__all__ = ["njit"]


def njit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(cache=True, nogil=True, boundscheck=True, **options)``."""
    settings = {"cache": True, "nogil": True, "boundscheck": True, **options}
    decorator: Callable[[F], F] = numba.njit(**settings)
    return decorator
