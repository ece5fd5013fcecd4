"""numba's ``njit``, with a compile cache that works on read-only installations.

Compiled kernels are cached next to their source; an installation that cannot write there (a
read-only image, another user's site-packages) caches them in the temp folder instead, since
numba refuses ``cache=True`` when it has nowhere to write. Import ``njit`` from here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

if "NUMBA_CACHE_DIR" not in os.environ and not os.access(Path(__file__).parent, os.W_OK):
    os.environ["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "moorage-numba")

# Imported after the cache folder is settled: numba reads it once, on import.
from numba import njit

__all__ = ["njit"]
