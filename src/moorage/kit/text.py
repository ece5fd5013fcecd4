from __future__ import annotations

import re

_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """Lower case; runs of other characters become ``-`` ("Darwin Py" -> "darwin-py")."""
    return _NON_SLUG.sub("-", name.lower()).strip("-")
